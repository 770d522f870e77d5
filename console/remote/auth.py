"""Who a viewer is: its token (read or operate, from `[serve] tokens`), its user@host, and where the collector listens."""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from dataclasses import dataclass

from console.config.schema import Config, ConfigError

DEFAULT_LISTEN = "127.0.0.1:8765"
ROLES = ("read", "operate")


@dataclass(frozen=True)
class Grant:
    """What one request may do: `role`, and the token's name (None: no tokens configured, loopback only)."""

    role: str
    name: str | None


@dataclass(frozen=True)
class _Token:
    name: str
    role: str
    value: str

    def __repr__(self) -> str:  # never the value, whoever prints it
        return f"_Token({self.name!r}, {self.role!r})"


class Tokens:
    """The configured viewer tokens, their values read from the environment once at start."""

    def __init__(self, cfg: Config | None) -> None:
        self._tokens: list[_Token] = []
        serve = cfg.serve if cfg is not None else None
        for i, t in enumerate(serve.tokens if serve else []):
            value = os.environ.get(t.env, "")
            if not value:
                raise ConfigError(f"{cfg.source_path}: serve.tokens[{i}].env: ${t.env} is not set (or empty)")
            self._tokens.append(_Token(t.name or t.env, t.role, value))

    @property
    def required(self) -> bool:
        return bool(self._tokens)

    def values(self) -> list[str]:
        """For the scrubber of everything the collector prints."""
        return [t.value for t in self._tokens]

    def grant(self, header: str | None) -> Grant | None:
        """The grant of an `Authorization: Bearer …` header; None when it is missing or wrong."""
        if not self._tokens:
            return Grant("operate", None)
        given = (header or "").removeprefix("Bearer ").strip().encode()
        found = None
        for t in self._tokens:  # every token compared, in constant time: no timing tells which one was close
            if hmac.compare_digest(given, t.value.encode()):
                found = t
        return Grant(found.role, found.name) if found else None


def parse_listen(text: str) -> tuple[str, int]:
    """`host:port` ([::1]:port for IPv6); ValueError with one line."""
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text.strip())
    if not m:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT")
    host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: port out of range")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


USER_RE = re.compile(r"[^A-Za-z0-9@._+-]")


def viewer_name(user: str | None, grant: Grant) -> str:
    """How a viewer's commands are attributed: its user@host (cleaned: it is the client's word), and its token's name."""
    who = USER_RE.sub("", (user or "").strip())[:64] or "unknown@viewer"
    return f"{who} ({grant.name})" if grant.name else f"{who} (viewer)"
