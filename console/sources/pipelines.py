"""Storytailor pipelines (CONTRACTS.md §2): kill switches over HTTP or AWS SSM, and their reader."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from console.clock import utc_iso
from console.config.schema import Service, Switches
from .base import WINDOWED_EVERY, Endpoint, SourceError, one_line, json_endpoint, metrics_endpoint
from .schema import Schema, boolean, per_row, rows, text, when

PIPELINES = ("daily-digest", "weekly-insights", "story-scoring", "referral-rewards", "expire-credits",
             "org-health-report", "crisis-alert", "therapeutic-checkin")


def endpoints(service: Service) -> list[Endpoint]:
    switches = service.switches or Switches()
    if switches.provider == "ssm":
        reader = _SsmSwitches(service)
        first = Endpoint("switches", f"ssm:{switches.path}", service.interval, "json", fetch=reader.fetch)
    else:
        first = json_endpoint(service, "switches", "/api/pipelines/switches")
    return [first, metrics_endpoint(service, usual=WINDOWED_EVERY)]  # its figures and rules: increases over 1 h


READERS = {
    "switches": Schema(
        rows("switches", Schema(text("pipeline"), boolean("enabled"), when("updated_at"))),
        extra=per_row("switches", "opsconsole_pipeline_switch_enabled", "pipeline", "pipeline", "enabled"),
    ),
}


class _SsmSwitches:
    """Reads the switches with GetParametersByPath; one boto3 client per source, made on first use."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._client = None

    async def fetch(self) -> dict:
        return await asyncio.to_thread(self._fetch)

    def _fetch(self) -> dict:
        path = _settings(self.service).path
        if self._client is None:
            self._client = _ssm_call(self.service, lambda: _make_client(self.service))
        pages = _ssm_call(self.service, lambda: list(
            self._client.get_paginator("get_parameters_by_path").paginate(Path=_base(path), Recursive=True)))
        return to_switches([p for page in pages for p in page.get("Parameters", [])], path)


async def put_switch(service: Service, pipeline: str, enabled: bool) -> None:
    """Flip one kill switch (PutParameter, Overwrite); SourceError with one line on failure."""
    path = _settings(service).path
    if not pipeline or "/" in pipeline:
        raise SourceError(f"ssm: invalid pipeline name {pipeline!r}")
    name = f"{_base(path)}/{pipeline}/enabled"

    def put() -> None:
        _make_client(service).put_parameter(Name=name, Value="true" if enabled else "false", Type="String", Overwrite=True)

    await asyncio.to_thread(_ssm_call, service, put)


def to_switches(parameters: list[dict], path: str) -> dict:
    """SSM parameters → the http provider's shape {"switches": [{pipeline, enabled, updated_at}]}."""
    prefix = _base(path) + "/"
    out = []
    for p in parameters:
        name = p.get("Name", "")
        pipeline = name[len(prefix):].removesuffix("/enabled")
        if not name.startswith(prefix) or not name.endswith("/enabled") or not pipeline or "/" in pipeline:
            continue
        value = p.get("Value")
        # Anything but "true"/"false" is passed through, so the reader reports it instead of guessing.
        enabled = {"true": True, "false": False}.get(value.strip().lower(), value) if isinstance(value, str) else value
        modified = p.get("LastModifiedDate")
        out.append({"pipeline": pipeline, "enabled": enabled,
                    "updated_at": utc_iso(modified.timestamp()) if modified is not None else None})
    return {"switches": sorted(out, key=lambda s: s["pipeline"])}


def _settings(service: Service) -> Switches:
    if service.switches is None or service.switches.provider != "ssm":
        raise SourceError(f"ssm: service {service.name} does not use the ssm switch provider")
    return service.switches


def _base(path: str) -> str:
    return "/" + path.strip("/")


def _make_client(service: Service):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise SourceError("ssm: boto3 is not installed: pip install 'opsconsole[aws]'") from None
    sw = _settings(service)
    config = Config(connect_timeout=service.timeout, read_timeout=service.timeout,
                    retries={"total_max_attempts": 2, "mode": "standard"})
    # A session per client: boto3's default session is not thread-safe.
    return boto3.session.Session().client("ssm", region_name=sw.region, endpoint_url=sw.endpoint_url, config=config)


def _ssm_call(service: Service, call: Callable[[], Any]) -> Any:
    """Run one boto3 call (in the caller's thread); its failures become one-line SourceErrors."""
    try:
        from botocore import exceptions as bx
    except ImportError:
        raise SourceError("ssm: boto3 is not installed: pip install 'opsconsole[aws]'") from None
    try:
        return call()
    except bx.NoCredentialsError:
        raise SourceError("ssm: no AWS credentials found (environment, profile or role)") from None
    except (bx.ConnectTimeoutError, bx.ReadTimeoutError):
        raise SourceError(f"timeout after {float(service.timeout)}s") from None
    except bx.EndpointConnectionError as e:
        raise SourceError(f"unreachable: cannot connect to {e.kwargs.get('endpoint_url', 'SSM')}") from None
    except bx.ClientError as e:
        err = e.response.get("Error", {})
        raise SourceError(f"ssm: {err.get('Code', 'error')}: {one_line(err.get('Message', ''), 100)}") from None
    except bx.BotoCoreError as e:
        raise SourceError(f"ssm: {one_line(str(e), 120)}") from None
