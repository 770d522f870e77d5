"""The boundary for service text: strip terminal escapes and control characters, scrub secrets, then cut."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from typing import Any, Callable, Iterable

MASK = "***"

# ESC-introduced sequences (CSI, OSC up to BEL or ST, DCS/SOS/PM/APC up to ST, two-byte escapes) and the
# 8-bit C1 forms of CSI and OSC: they are removed whole, so no parameter bytes remain on screen either.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (ESC[2J, colours)
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC (links, window title)
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # C1 CSI
    r"|\x9d[^\x07\x9c]*(?:\x07|\x9c)?"  # C1 OSC
    r"|\x1b[ -~]?"  # any other escape, with the byte it introduces
)
# Everything Unicode calls a control or format character (C0, DEL, C1, bidi overrides, zero-width joiners
# used to hide text), plus line/paragraph separators. Tab and newline are kept where asked (bodies).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]")
_TAB_NL = re.compile(r"[\t\n]")

# Credential-shaped values, whoever's they are: headers echoed in a body, JSON or query-string forms.
_SHAPED = re.compile(
    r"(?i)(\b(?:authorization|proxy-authorization|x-api-key|api[-_]?key|apikey|access[-_]?token|token|"
    r"password|passwd|secret|client[-_]secret)\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;&}\]]+"
    r"|\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
)


def _forms(secret: str) -> set[str]:
    """A secret and the encodings a service may echo: base64 (padded or not) and URL-safe base64."""
    raw = secret.encode()
    out = {secret}
    for enc in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        out.add(enc)
        out.add(enc.rstrip("="))
    return {s for s in out if len(s) >= 4}


class Scrubber:
    """Masks every configured secret (and its base64 forms) and anything credential-shaped."""

    def __init__(self, secrets: Callable[[], Iterable[str]] | Iterable[str] = ()) -> None:
        self._source = secrets if callable(secrets) else (lambda s=tuple(secrets): s)
        self._known: tuple[str, ...] | None = None
        self._pattern: re.Pattern | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the secrets (a rotated one is picked up); cheap when nothing changed."""
        known = tuple(sorted(s for s in self._source() if s))
        if known == self._known:
            return
        self._known = known
        forms: set[str] = set()
        for s in known:
            forms |= _forms(s)
            if ":" in s:  # basic auth's "user:password" is registered by callers as one secret
                forms |= _forms(s.split(":", 1)[1])
        # Longest first, so a base64 form is masked whole before any shorter secret inside it.
        alts = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alts))) if alts else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _SHAPED.sub(lambda m: m[1] + MASK if m[1] else f"{m[2]} {MASK}", text)


NO_SECRETS = Scrubber()


def strip_controls(text: str, keep_newlines: bool = False) -> str:
    """Terminal escapes removed whole; other controls become a space (tab and newline kept if asked)."""
    text = _ESCAPES.sub("", text)
    if keep_newlines:
        return _CONTROLS.sub(" ", text)
    return _CONTROLS.sub(" ", _TAB_NL.sub(" ", text))


def clean(text: Any, scrub: Scrubber = NO_SECRETS, limit: int | None = None, keep_newlines: bool = False) -> str:
    """Service text made safe to keep and show: escapes stripped, secrets masked, *then* cut to `limit`.

    Scrubbing before cutting matters: a secret cut in half is no longer recognisable as one.
    """
    text = scrub(strip_controls(str(text), keep_newlines))
    if not keep_newlines:
        text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_tree(value: Any, scrub: Scrubber = NO_SECRETS) -> Any:
    """A JSON document with every string (keys included) cleaned; other values untouched."""
    if isinstance(value, str):
        return clean(value, scrub)
    if isinstance(value, dict):
        return {(clean(k, scrub) if isinstance(k, str) else k): clean_tree(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_tree(v, scrub) for v in value]
    return value


def admit(obs, scrub: Scrubber):
    """An Observation as the console keeps it (state, recording, incidents): its error and payload cleaned."""
    changes = {}
    if obs.error is not None:
        changes["error"] = clean(obs.error, scrub, 200)
    if obs.payload is not None:
        changes["payload"] = clean_tree(obs.payload, scrub)
    return replace(obs, **changes) if changes else obs


def markup_escape(text: str) -> str:
    """Text to place inside Textual markup, inert whatever it holds or wherever it was cut.

    Textual's own `escape` leaves a cut tag (`[link=x`) alone, which then swallows the markup after it.
    Every `[` is escaped; a final backslash (which would escape the closing tag after it) is shown as ⧵.
    """
    text = text.replace("[", "\\[")
    return text[:-1] + "⧵" if text.endswith("\\") else text


class ScrubbedText:
    """A text stream that masks secrets in what is written to it (crash reports printed on exit)."""

    def __init__(self, out, scrub: Scrubber) -> None:
        self.out, self.scrub = out, scrub

    def write(self, text: str) -> int:
        self.scrub.refresh()
        self.out.write(self.scrub(text))
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return False
