"""Shared incidents: the alert label set a rule alert is sent with, the incident id derived from it, ack comments."""

from __future__ import annotations

import hashlib

from console.state import RuleState

# Letters only, no I or O: an id reads aloud over a call, and never parses as the store's counter number.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"
ACK_PREFIX = "opsconsole ack: "
# Labels that differ per console for the same alert: `instance` is the address this console scrapes
# (another machine may reach the same target by another name), so two consoles would not de-duplicate.
PER_CONSOLE = ("instance", "__name__")


def alert_labels(rule: RuleState) -> dict[str, str]:
    """alertname, the series' labels, the rule's service and severity: what every console computes alike."""
    labels = {k: v for k, v in rule.labels.items() if k not in PER_CONSOLE}
    labels.update({"alertname": rule.name, "service": rule.service, "severity": rule.severity})
    return labels


def incident_id(labels: dict[str, str]) -> str:
    """INC- and six letters from a hash of the label set: the same on every console, unlike a counter."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    n = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    letters = []
    for _ in range(6):
        n, r = divmod(n, len(_ALPHABET))
        letters.append(_ALPHABET[r])
    return "INC-" + "".join(letters)


def ack_comment(incident: str, who: str, comment: str = "") -> str:
    return f"{ACK_PREFIX}{incident} by {who}" + (f": {comment}" if comment else "")


def is_ack(comment: str | None) -> bool:
    """A silence this console (or another one) made to acknowledge an incident."""
    return bool(comment) and comment.startswith(ACK_PREFIX)
