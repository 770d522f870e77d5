"""The alert sender's send rules (Prometheus's), asserted on the bytes a loopback HTTP server received, and its
bounded queue, asserted on what the header reads (ConsoleState.sharing). The real Alertmanager runs in
tests/test_shared_incidents.py."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from console.clock import VirtualClock, parse_iso
from console.config.schema import parse_config
from console.events import Hub, StatePublished
from console.incidents.sender import AlertSender
from console.state import ConsoleState, RuleState

T0 = 1_790_000_000.0


class Receiver:
    """A loopback HTTP server that keeps every request body it gets and answers 200."""

    def __init__(self, status: bytes = b"200 OK", echo: bool = False) -> None:
        self.posts: list[list[dict]] = []
        self.heads: list[bytes] = []
        self.status, self.echo = status, echo  # echo: answer with the request's own headers, as a bad proxy might
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        async def handle(reader, writer):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            self.posts.append(json.loads(await reader.readexactly(length)))
            self.heads.append(head)
            body = head if self.echo else b""
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (self.status, len(body), body))
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


def _rule(state: str, fired_at: float | None, instance: str = "10.0.0.7:9100") -> RuleState:
    return RuleState(name="HighErrorRate", service="datapipe", severity="P2", state=state, value=0.09,
                     labels={"job": "datapipe", "instance": instance}, active_since=T0, fired_at=fired_at,
                     runbook="004_3b25d9bb95b182cc.txt#High Error Rate", summary="5xx above 5 %", expr="x > 0.05",
                     for_=60.0)


class Console:
    def __init__(self, url: str, **conf) -> None:
        self.clock = VirtualClock(T0)
        self.hub = Hub()
        cfg = parse_config({"environment": "war-room", "tick": "5s",
                            "alertmanager": {"send": True, "urls": [url], "name": "wall", **conf}}, "<t>")
        self.client = httpx.AsyncClient()
        self.sender = AlertSender(self.hub, self.clock, cfg, http=lambda: self.client)

    async def publish(self, at: float, *rules: RuleState, wait: bool = True) -> ConsoleState:
        """Publish a state as the engine does at the end of a tick; wait until the sender has posted it."""
        self.clock.set(at)
        state = ConsoleState(ts=at, environment="war-room", read_only=False, mode="live", rules=list(rules))
        self.hub.publish(StatePublished(state))
        if wait:
            await self.sender.idle()
        return state

    async def close(self) -> None:
        await self.sender.stop()
        await self.client.aclose()


@pytest.fixture
async def received():
    r = Receiver()
    url = await r.start()
    console = Console(url)
    await console.sender.start()
    yield r, console
    await console.close()
    r.server.close()


async def test_sends_as_prometheus_does(received):
    r, c = received
    await c.publish(T0, _rule("pending", None))
    assert r.posts == []  # pending alerts are not sent
    fired = T0 + 60
    await c.publish(fired, _rule("firing", fired))
    [[alert]] = r.posts
    assert alert["labels"] == {"alertname": "HighErrorRate", "job": "datapipe", "service": "datapipe",
                               "severity": "P2"}  # no instance: it differs per console
    assert alert["annotations"] == {"summary": "5xx above 5 %", "runbook": "004_3b25d9bb95b182cc.txt#High Error Rate"}
    assert alert["generatorURL"] == "opsconsole://wall/war-room/rules/HighErrorRate"
    assert parse_iso(alert["startsAt"]) == fired
    assert parse_iso(alert["endsAt"]) == fired + 4 * 60  # 4 × max(tick 5 s, resend 60 s)

    await c.publish(fired + 30, _rule("firing", fired))
    assert len(r.posts) == 1  # not before the resend delay
    await c.publish(fired + 65, _rule("firing", fired))
    assert len(r.posts) == 2 and parse_iso(r.posts[1][0]["endsAt"]) == fired + 65 + 240

    resolved = fired + 70
    await c.publish(resolved)  # resolved since the last send: sent at once, endsAt = when it resolved
    assert len(r.posts) == 3 and parse_iso(r.posts[2][0]["endsAt"]) == resolved
    await c.publish(resolved + 61)
    assert len(r.posts) == 4 and parse_iso(r.posts[3][0]["endsAt"]) == resolved  # re-sent while retained
    for t in range(120, 900, 60):
        await c.publish(resolved + t + 2)
    assert all(parse_iso(p[0]["endsAt"]) == resolved for p in r.posts[3:])
    count = len(r.posts)
    await c.publish(resolved + 900 + 62)  # past 15 minutes: forgotten, never sent again
    await c.publish(resolved + 900 + 124)
    assert len(r.posts) == count
    assert c.sender.state.sent == count and c.sender.state.failures == 0


async def test_full_queue_drops_the_oldest_and_says_so(unused_tcp_port):
    c = Console(f"http://127.0.0.1:{unused_tcp_port}", queue=3)  # nothing listens there
    try:
        rules = [_rule("firing", T0, instance=f"h{i}") for i in range(5)]
        for i, rule in enumerate(rules):
            rule.labels["shard"] = str(i)  # five alerts, five label sets
        state = await c.publish(T0, *rules, wait=False)  # no drain task yet: everything waits in the queue
        assert state.sharing.dropped == 2 and state.sharing.queued == 3
        assert [p["labels"]["shard"] for _, p in c.sender.queue] == ["2", "3", "4"]
        await c.sender.start()
        await c.publish(T0 + 5, *rules)
        s = c.sender.state
        assert s.failures == 1 and s.sent == 0 and s.queued == 0
        assert "unreachable" in s.error and "\n" not in s.error
    finally:
        await c.close()


async def test_the_token_is_sent_but_never_shown_even_when_echoed_back(monkeypatch):
    token = "am-send-t0ken-9c1e"
    monkeypatch.setenv("OPSCONSOLE_TEST_AM_SEND_TOKEN", token)
    r = Receiver(status=b"401 Unauthorized", echo=True)
    url = await r.start()
    c = Console(url, auth={"type": "bearer", "token_env": "OPSCONSOLE_TEST_AM_SEND_TOKEN"})
    await c.sender.start()
    try:
        state = await c.publish(T0, _rule("firing", T0))
        assert f"authorization: bearer {token}".encode() in r.heads[0].lower()
        assert state.sharing.failures == 1 and "401" in state.sharing.error
        assert token not in json.dumps(state.to_json(), default=str)
    finally:
        await c.close()
        r.server.close()
