"""The console's TOML config, validated as msgspec Structs; errors name the file, the key and the problem."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any, Literal

from msgspec import field

from .errors import ConfigError  # ConfigError lives there: the CLI names it without loading this module
from .strict import Bytes, Seconds, Strict, decode, parse_size  # noqa: F401 - parse_size: imported from here

KINDS = ("conversion", "pipelines", "converge", "path_tracker", "data_pipeline", "scrape", "alertmanager")


def _check_url(url: str) -> None:
    """A base URL the console can connect to: scheme, a host, a port in range (not an error at run time)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of 0-65535 or not a number
    except ValueError as e:
        raise ValueError(f"url {url!r}: {e}") from None
    if not parts.hostname:
        raise ValueError(f"url {url!r} has no host")
    if parts.port == 0:
        raise ValueError(f"url {url!r}: port 0 is not a port to connect to")


class Auth(Strict):
    """How to authenticate; secrets are named environment variables, never inline values."""

    type: Literal["none", "basic", "bearer", "header"] = "none"
    username: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    header: str = "x-api-key"
    value_env: str | None = None

    def __post_init__(self) -> None:
        need = {"basic": ("username", "password_env"), "bearer": ("token_env",), "header": ("value_env",)}
        for key in need.get(self.type, ()):
            if not getattr(self, key):
                raise ValueError(f"auth type {self.type!r} needs {key}")

    def secret_envs(self) -> list[str]:
        return [e for e in (self.password_env, self.token_env, self.value_env) if e]


class Switches(Strict):
    """Where the Storytailor kill switches live."""

    provider: Literal["http", "ssm"] = "http"
    path: str = "/storytailor-production/pipelines/"
    region: str = "us-east-1"
    endpoint_url: str | None = None


class Service(Strict):
    name: str
    kind: str
    url: str
    title: str | None = None
    auth: Auth = field(default_factory=Auth)
    interval: Seconds = 5.0  # JSON endpoints
    # /metrics; None: not set, so every 1 s, or the kind's own pace (console/sources/base.py metrics_endpoint)
    metrics_interval: Seconds | None = None
    timeout: Seconds = 2.0
    metrics_path: str = "/metrics"
    job: str | None = None  # Prometheus job label; defaults to name
    instance: str | None = None  # Prometheus instance label; defaults to host:port of url
    switches: Switches | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown service kind {self.kind!r} (one of {', '.join(KINDS)})")
        _check_url(self.url)
        if self.interval <= 0 or self.timeout <= 0 or (self.metrics_interval is not None and self.metrics_interval <= 0):
            raise ValueError("interval, metrics_interval and timeout must be positive")
        if self.job is None:
            self.job = self.name
        if self.instance is None:
            self.instance = self.url.split("://", 1)[1].split("/", 1)[0]


class RuleConfig(Strict):
    """A rule added or overridden by name (fields as in console/rules.toml)."""

    name: str
    expr: str | None = None
    for_: Seconds | None = field(default=None, name="for")
    severity: Literal["P1", "P2", "P3", "P4"] | None = None
    service: str | None = None  # a service kind; `$job` in expr becomes each such service's job
    runbook: str | None = None
    summary: str | None = None
    actions: list[str] | None = None
    disabled: bool = False

    def __post_init__(self) -> None:
        if self.service is not None and self.service not in KINDS:
            raise ValueError(f"rule {self.name!r}: unknown service kind {self.service!r} (one of {', '.join(KINDS)})")


class Environment(Strict):
    read_only: bool = False
    production: bool = False
    urls: dict[str, str] = field(default_factory=dict)  # service name → url override


class Prometheus(Strict):
    """`[prometheus]`: query a Prometheus-compatible server for metrics instead of scraping /metrics."""

    url: str
    auth: Auth = field(default_factory=Auth)
    header_envs: dict[str, str] = field(default_factory=dict)  # extra header → env var holding its value
    ca_bundle: str | None = None  # PEM file of CAs to trust (else the system's)
    tls_verify: bool = True
    timeout: Seconds = 2.0  # per query; also sent to the server as its evaluation timeout
    fallback: bool = True  # when unreachable: scrape /metrics directly and evaluate locally
    retry: Seconds = 10.0  # while unreachable, how often to try the server again

    def __post_init__(self) -> None:
        _check_url(self.url)
        if "@" in self.url.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("url must not hold credentials: use auth (password_env, token_env)")
        if self.timeout <= 0 or self.retry <= 0:
            raise ValueError("timeout and retry must be positive")

    def secret_envs(self) -> list[str]:
        return self.auth.secret_envs() + list(self.header_envs.values())


class AlertmanagerSend(Strict):
    """`[alertmanager]`: send the console's firing rule alerts to Alertmanager, as Prometheus's rule manager does."""

    send: bool = False
    urls: list[str] = field(default_factory=list)  # every one gets every alert (empty: the alertmanager services')
    auth: Auth = field(default_factory=Auth)
    resend: Seconds = 60.0  # Prometheus's --rules.alert.resend-delay default
    timeout: Seconds = 5.0  # per POST
    queue: int = 10000  # alerts waiting to be posted; past it the oldest are dropped (and counted)
    name: str | None = None  # the console's name in each alert's generatorURL (default: this host's name)

    def __post_init__(self) -> None:
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"url must start with http:// or https://, got {url!r}")
            if "@" in url.split("://", 1)[1].split("/", 1)[0]:
                raise ValueError("url must not hold credentials: use auth (password_env, token_env)")
        if self.resend <= 0 or self.timeout <= 0 or self.queue <= 0:
            raise ValueError("resend, timeout and queue must be positive")


class Layout(Strict):
    """[layout]: the first screen of the TUI (`--layout` overrides)."""

    default: Literal["dashboard", "wall"] = "dashboard"


class ServeToken(Strict):
    """One viewer token of `opsconsole serve`: its value is read from the environment variable `env`."""

    env: str
    role: Literal["read", "operate"]
    name: str | None = None  # shown with the viewer's user@host (default: the variable's name)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.env):
            raise ValueError(f"env must name an environment variable, got {self.env!r}")


class Serve(Strict):
    """`[serve]`: the collector of `opsconsole serve` (console/remote/server.py) and who may attach to it."""

    listen: str | None = None  # host:port (default 127.0.0.1:8765; off loopback needs tokens)
    tokens: list[ServeToken] = field(default_factory=list)

    def __post_init__(self) -> None:
        envs = [t.env for t in self.tokens]
        dup = {e for e in envs if envs.count(e) > 1}
        if dup:
            raise ValueError(f"token env {sorted(dup)[0]!r} listed twice")


class Config(Strict):
    environment: str = "demo"
    read_only: bool = False
    promql_semantics: Literal["prometheus-3", "prometheus-2"] = "prometheus-3"
    tick: Seconds = 1.0
    services: list[Service] = field(default_factory=list)
    rules: list[RuleConfig] = field(default_factory=list)
    # Prometheus rule files (globs), relative to this config file; see console/rules/promfile.py.
    rule_files: list[str] = field(default_factory=list)
    # A rule file's `severity` label → P1–P4 (added to, and overriding, the defaults).
    severity_map: dict[str, Literal["P1", "P2", "P3", "P4"]] = field(default_factory=dict)
    # $externalLabels in rule-file templates (Prometheus' global.external_labels).
    external_labels: dict[str, str] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # binding id → key, e.g. "app.help" = "f1"
    actions: list[dict[str, Any]] = field(default_factory=list)  # mitigations added by the user (console/actions.py)
    data_dir: str | None = None  # audit log, incidents, recordings; default: the user data dir
    prometheus: Prometheus | None = None  # metrics from a Prometheus server (None: scrape directly)
    alertmanager: AlertmanagerSend | None = None  # [alertmanager]: where this console's rule alerts go
    layout: Layout = field(default_factory=Layout)  # [layout] default = "wall": the war-room screen first
    serve: Serve | None = None  # [serve]: `opsconsole serve`'s listen address and viewer tokens
    # The console's TUI records every session: true (one file per session in <data_dir>/recordings),
    # false, or a directory. Old chunks are dropped past the retention or the size cap (never the file).
    record: bool | str = True
    record_retention: Seconds = 7 * 86400.0
    record_max_size: Bytes = 2_000_000_000
    source_path: str = "<built-in>"

    def __post_init__(self) -> None:
        names = [s.name for s in self.services]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate service name {sorted(dup)[0]!r}")
        am = self.alertmanager
        if am is not None and am.send and not am.urls and not any(s.kind == "alertmanager" for s in self.services):
            raise ValueError("alertmanager: send = true needs urls (or a service of kind alertmanager)")

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def secret_values(self) -> list[str]:
        """Every configured secret's current value, so writers can scrub them."""
        vals = []
        envs = self.prometheus.secret_envs() if self.prometheus else []
        envs += self.alertmanager.auth.secret_envs() if self.alertmanager else []
        envs += [t.env for t in self.serve.tokens] if self.serve else []
        for env in envs:
            if os.environ.get(env):
                vals.append(os.environ[env])
        for s in self.services:
            for env in s.auth.secret_envs():
                v = os.environ.get(env)
                if v:
                    vals.append(v)
        return vals

    def with_environment(self, name: str | None) -> "Config":
        """Apply `[environments.NAME]`; the name is always shown on screen."""
        if not name:
            return self
        if name not in self.environments:
            raise ConfigError(f"{self.source_path}: environments: no environment named {name!r}")
        env = self.environments[name]
        services = []
        for s in self.services:
            url = env.urls.get(s.name)
            services.append(s.model_copy(update={"url": url}) if url else s)
        return self.model_copy(update={"environment": name, "services": services,
                                       "read_only": self.read_only or env.read_only})

    @property
    def production(self) -> bool:
        env = self.environments.get(self.environment)
        return bool(env and env.production)


def parse_config(data: dict, source: str) -> Config:
    """Validate a TOML table; ConfigError with one line per the first problem."""
    cfg = decode({**data, "source_path": source}, Config, source)
    return cfg  # [[actions]] and [[rules]] are checked by console.catalog.build_catalog


def load_config(path: str | os.PathLike) -> Config:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    cfg = parse_config(data, str(p))
    if not cfg.services:  # an empty dashboard would look like a quiet night
        raise ConfigError(f"{p}: services: no service configured (add a [[services]] table; see config.example.toml)")
    check_data_dir(cfg)
    return cfg


def check_data_dir(cfg: Config) -> Path:
    """The data dir exists (or can be made) and takes a file: else a ConfigError now, not a traceback later."""
    from console.paths import data_dir

    key = "data_dir (from OPSCONSOLE_DATA_DIR)" if os.environ.get("OPSCONSOLE_DATA_DIR") else "data_dir"
    try:
        path = data_dir(cfg.data_dir)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{cfg.source_path}: {key}: {getattr(e, 'strerror', None) or e}") from None
    probe = path / ".opsconsole-write-test"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"{cfg.source_path}: {key}: {path} is not a writable directory "
                          f"({(e.strerror or str(e)).lower()})") from None
    return path
