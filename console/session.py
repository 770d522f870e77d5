"""A console session: the config (a file, or the embedded demo) and its engine, started and stopped together."""

from __future__ import annotations

from .clock import Clock, WallClock
from console.config.schema import Config, load_config
from .engine import Engine


class Session:
    """What `demo`, `run` and `snapshot` share: build the config, start the simulator if needed, the engine."""

    def __init__(self, *, config_path: str | None = None, env: str | None = None, scenario: str = "normal",
                 seed: int = 0, clock: Clock | None = None, read_only: bool = False,
                 record: str | None = None) -> None:
        self.config_path = config_path
        self.env = env
        self.scenario = scenario
        self.seed = seed
        self.clock = clock or WallClock()
        self.read_only = read_only
        self.demo = None
        self.engine: Engine | None = None
        self.record = record  # a recording file (or folder), "auto" (the config's `record`), None: off
        self.recorder = None

    @property
    def is_demo(self) -> bool:
        return self.config_path is None

    async def start(self) -> Engine:
        if self.is_demo:
            from .demo import Demo

            self.demo = Demo(self.clock, scenario=self.scenario, seed=self.seed)
            cfg: Config = await self.demo.start()
        else:
            cfg = load_config(self.config_path).with_environment(self.env)
        if self.read_only:
            cfg = cfg.model_copy(update={"read_only": True})
        self.engine = Engine(cfg, self.clock, scenario=self.scenario if self.is_demo else None)
        await self.engine.start()
        if self.record:
            from console.recording.writer import open_recorder

            self.recorder = await open_recorder(self.engine, None if self.record == "auto" else self.record)
        return self.engine

    async def stop(self) -> None:
        if self.recorder is not None:
            await self.recorder.stop()
        if self.engine is not None:
            await self.engine.stop()
        if self.demo is not None:
            await self.demo.stop()
