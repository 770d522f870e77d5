"""The embedded demo: start the simulated fleet and build the config that points the console at it."""

from __future__ import annotations

import os

from .clock import Clock
from console.config.schema import Config, parse_config

# kind → (service name, auth table using the simulator's credential env vars)
DEMO_SERVICES = {
    "conversion": ("pulse", {"type": "basic", "username": "admin", "password_env": "OPSCONSOLE_DEMO_PULSE_PASSWORD"}),
    "pipelines": ("storytailor", {"type": "header", "header": "x-api-key", "value_env": "OPSCONSOLE_DEMO_STORYTAILOR_KEY"}),
    "converge": ("converge", {"type": "header", "header": "x-api-key", "value_env": "OPSCONSOLE_DEMO_CONVERGE_KEY"}),
    "path_tracker": ("path-tracker", {"type": "bearer", "token_env": "OPSCONSOLE_DEMO_PATH_TRACKER_TOKEN"}),
    "data_pipeline": ("datapipe", {"type": "header", "header": "x-api-key", "value_env": "OPSCONSOLE_DEMO_DATA_PIPELINE_KEY"}),
}


def demo_config_dict(urls: dict[str, str], **top) -> dict:
    """A config table (as if read from TOML) for a fleet at `urls`."""
    services = []
    for kind, (name, auth) in DEMO_SERVICES.items():
        svc = {"name": name, "kind": kind, "url": urls[kind], "auth": dict(auth)}
        if kind == "pipelines":
            svc["switches"] = {"provider": "http"}
        services.append(svc)
    return {"environment": "demo", **top, "services": services}


def demo_config(urls: dict[str, str], **top) -> Config:
    return parse_config(demo_config_dict(urls, **top), "<demo>")


class Demo:
    """The simulator plus its config; exports the demo credentials to this process's environment."""

    def __init__(self, clock: Clock, scenario: str = "normal", seed: int = 0) -> None:
        from .sim import Credentials, Fleet  # imported here: only the demo needs starlette/uvicorn

        self.credentials = Credentials.generate()
        os.environ.update(self.credentials.env())
        self.fleet = Fleet(clock, scenario=scenario, seed=seed, credentials=self.credentials)
        self.urls: dict[str, str] = {}

    async def start(self, **top) -> Config:
        self.urls = await self.fleet.start(host="127.0.0.1")
        return demo_config(self.urls, **top)

    async def stop(self) -> None:
        await self.fleet.stop()
