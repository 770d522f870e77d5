"""The façade over a recording: reads as live does; every mutating command is refused, said once and audited."""

from __future__ import annotations

import asyncio
import getpass
import socket
from typing import Any, Callable

from console.catalog import build_catalog
from console.clock import WallClock
from console.facade import MUTATING, failed, refused
from console.mitigations.audit import AuditLog, AuditRow, audit_path
from console.session import Session

from console.recording import keyframes
from console.recording.replay import Replay, drive_async

DISABLED = "disabled in replay: nothing is sent, the recording only shows what was done"


class ReplaySession(Session):
    """`opsconsole replay PATH`: the same façade as a live Session, driven by a Replay; nothing it shows can change."""

    mode = "replay"

    def __init__(self, replay: Replay, *, audit_dir: str | None = None) -> None:
        super().__init__(clock=replay.clock)
        self.replay = replay
        self.engine = replay.engine
        self.catalog = build_catalog(replay.engine.cfg)
        replay.subscribe(self._publish)  # each state the replay shows, recorded or the engine's
        self._driving = asyncio.Lock()  # one move at a time: a seek, a playback step, the engine brought to a tick
        self._audit = AuditLog(audit_path(audit_dir))  # this machine's log: who tried what while replaying
        self._wall = WallClock()
        self._user = f"{getpass.getuser()}@{socket.gethostname()}"

    async def start(self):
        await self._audit.open()
        return self.engine

    async def start_mitigations(self) -> None:
        return None  # nothing is ever sent from a replay

    async def run(self) -> None:
        return None  # nothing polls: the replay screen moves through the recording

    async def stop(self) -> None:
        await self._audit.close()
        self.replay.close()

    def notices(self) -> list[tuple[str, str]]:
        said = [("warning", f"skipped unreadable data: {what}") for what in self.replay.skipped]
        if self.replay.end - self.replay.start <= keyframes.EVERY or self.replay.states is not None:
            return said
        if not self.replay.keyframes:
            said.append(("information", "this recording has no keyframes (an older console made it): "
                                        "a seek replays the hour before its target, which takes seconds"))
        else:
            said.append(("information", "this recording has no recorded states (an older console made it): "
                                        "a seek rebuilds the hour before its target, which takes a moment"))
        return said

    @property
    def state(self):
        """What the replay shows (a recorded state, or the engine's)."""
        return self.replay.state if self.replay.state is not None else self.engine.state

    async def request(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = str(cmd.get("cmd", ""))
        if name in MUTATING:
            what = "Incident changes" if name.startswith("incident.") else (
                "Drafts" if name.startswith("draft.") else "Mitigations")
            self._refuse(cmd, name)
            return refused(f"{what} are {DISABLED}")
        if name in ("incident.view", "range"):  # read from the engine: brought to the tick shown first
            async with self._driving:
                await drive_async(self.replay.engine_at_position())
                return await super().request(cmd)
        if name == "screenshot.write":
            return await super().request(cmd)
        return failed(f"unknown command {name!r}")

    def _refuse(self, cmd: dict, name: str) -> None:
        attempt = self._audit.last_attempt = self._audit.last_attempt + 1
        what = cmd.get("verb") or cmd.get("action") or ("undo" if name == "mitigation.prepare" else name)
        target = cmd.get("id") or cmd.get("name")
        self._audit.append(AuditRow(ts=self._wall.now(), user=self._user, environment=self.engine.cfg.environment,
                                    service=str(cmd.get("service") or ""), action=str(what),
                                    target=None if target is None else str(target), attempt=attempt,
                                    result="refused", summary=f"{name} in replay of {self.replay.rec.path}",
                                    detail="replay: nothing is sent"))

    # --- moving through the recording (the replay screen's own controls) --------------------

    @property
    def start_ts(self) -> float:
        return self.replay.start

    @property
    def end_ts(self) -> float:
        return self.replay.end

    @property
    def position(self) -> float | None:
        return self.replay.position

    async def seek(self, target: float) -> None:
        async with self._driving:
            await drive_async(self.replay.seek_to(target))

    async def play(self, until: float, budget: Callable[[], bool] | None = None) -> None:
        async with self._driving:
            await drive_async(self.replay.play(until, budget))

    @property
    def closed(self) -> bool:
        return self.replay.closed

    async def refresh(self) -> bool:
        """Read how far a file still being recorded goes now; True when it grew."""
        return await asyncio.to_thread(self.replay.refresh)

    def jump_target(self, direction: int) -> float | None:
        return self.replay.jump_target(direction)

    def marks(self):
        return self.replay.marks()

    def parse_instant(self, text: str) -> float:
        from console.recording.replay import parse_instant

        return parse_instant(text, self.replay.start, self.replay.end, here=self.replay.position)
