"""The `ssm` kill-switch provider against moto's real SSM server: read, flip, read back, fail clearly."""

from __future__ import annotations

import socket
import sys

import pytest

from console.clock import VirtualClock
from console.config.schema import Service, Switches
from console.sources import SourceError, build_source, read
from console.sources.pipelines import PIPELINES, put_switch

pytestmark = [pytest.mark.usefixtures("aws_env"), pytest.mark.external]  # moto_url and aws_env live in conftest.py


def ssm_service(endpoint_url: str, path: str) -> Service:
    return Service(name="storytailor", kind="pipelines", url="http://127.0.0.1:1", timeout=5.0,
                   switches=Switches(provider="ssm", path=path, region="us-east-1", endpoint_url=endpoint_url))


def put(endpoint_url: str, name: str, value: str) -> None:
    import boto3

    client = boto3.client("ssm", region_name="us-east-1", endpoint_url=endpoint_url)
    client.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


async def poll_switches(svc: Service):
    src = build_source(svc, None, VirtualClock())
    src.endpoints = [ep for ep in src.endpoints if ep.key == "switches"]
    (obs,) = await src.poll_due(src.next_due())
    return obs


def switch_gauges(obs) -> dict[str, float]:
    reading = read("pipelines", "switches", obs.payload, "storytailor", "i")
    return {s.labels["pipeline"]: s.value for s in reading.gauges}


async def test_reads_the_eight_switches(moto_url):
    path = "/storytailor-production/pipelines/"
    for p in PIPELINES:
        put(moto_url, f"{path}{p}/enabled", "false" if p == "crisis-alert" else "true")
    put(moto_url, f"{path}daily-digest/cache_ttl", "300")  # not a switch
    obs = await poll_switches(ssm_service(moto_url, path))
    assert obs.ok, obs.error
    assert [s["pipeline"] for s in obs.payload["switches"]] == sorted(PIPELINES)
    assert all(isinstance(s["updated_at"], str) and s["updated_at"].endswith("Z") for s in obs.payload["switches"])
    assert switch_gauges(obs) == {p: float(p != "crisis-alert") for p in PIPELINES}


async def test_put_switch_flips_and_reads_back(moto_url):
    path = "/flip-test/pipelines"
    for p in PIPELINES:
        put(moto_url, f"{path}/{p}/enabled", "true")
    svc = ssm_service(moto_url, path)
    await put_switch(svc, "weekly-insights", False)
    assert switch_gauges(await poll_switches(svc))["weekly-insights"] == 0.0
    await put_switch(svc, "weekly-insights", True)
    assert switch_gauges(await poll_switches(svc))["weekly-insights"] == 1.0


async def test_pages_through_many_parameters(moto_url):
    path = "/paged/pipelines/"
    for i in range(23):  # GetParametersByPath returns at most 10 per page
        put(moto_url, f"{path}p{i:02d}/enabled", "true")
    obs = await poll_switches(ssm_service(moto_url, path))
    assert len(obs.payload["switches"]) == 23


async def test_a_value_that_is_not_a_boolean_is_reported_not_guessed(moto_url):
    path = "/odd/pipelines/"
    put(moto_url, f"{path}daily-digest/enabled", "maybe")
    obs = await poll_switches(ssm_service(moto_url, path))
    with pytest.raises(ValueError) as err:
        read("pipelines", "switches", obs.payload, "storytailor", "i")
    assert str(err.value) == "switches: switches[0].enabled is 'maybe', expected true or false"


async def test_unreachable_endpoint_is_one_line():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    obs = await poll_switches(ssm_service(url, "/x/"))
    assert obs.error == f"unreachable: cannot connect to {url}/"
    with pytest.raises(SourceError) as err:
        await put_switch(ssm_service(url, "/x/"), "daily-digest", False)
    assert str(err.value) == f"unreachable: cannot connect to {url}/"


async def test_missing_credentials(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    obs = await poll_switches(ssm_service("http://127.0.0.1:1", "/x/"))
    assert obs.error == "ssm: no AWS credentials found (environment, profile or role)"


async def test_boto3_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` raise ImportError
    obs = await poll_switches(ssm_service("http://127.0.0.1:1", "/x/"))
    assert obs.error == "ssm: boto3 is not installed: pip install 'opsconsole[aws]'"
