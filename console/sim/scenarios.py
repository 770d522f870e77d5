"""The simulator's scenarios and the timeline of which one is active when.

Each scenario takes effect at its onset (the clock's time when it was set) and trips the runbook
threshold named below. "Trips after" was measured the way the console measures it: over the
threshold's own trailing window, with at least that window of normal history before the onset
(a fresh fleet, whose windows hold only post-onset data, trips sooner). tests/test_sim.py holds
each scenario to a bound a little above these figures.

| scenario             | what changes at onset                         | threshold it trips (runbook)              | after     |
|----------------------|-----------------------------------------------|-------------------------------------------|-----------|
| normal               | nothing: daily shape, noise, short bursts     | none (Pulse `degraded` is expected)       | never     |
| conversion-stall     | Pulse: every event stops                      | health `stale` (last event > 5 min)       | 5 min     |
| emission-gap         | Pulse: `upgrade_clicked` stops                | that type 0 in `events_by_type` (5 min)   | 5 min     |
| cardinality-overflow | Pulse: +5 events/s, resource id as capability | `bucket_count` > 500                      | 1.5 min   |
|                      |   (then 1000 keys/type: events dropped)       | `invalid_total{cardinality_exceeded}` ↑   | 3.5 min   |
| unsubscribe-spike    | Storytailor: 6 % of digest emails unsubscribe | unsubscribes / sent over 1 h > 0.5 %      | ~8 min ¹  |
| crisis-sla           | crisis alerts ~1.5/min, 70 % detected late    | crisis-alert SLA violations > 3 in 1 h    | 3–5 min   |
| debt-surge           | Converge: intents ×6, worker ×½, reviews ↑    | debt_score > 70 while intake stays `open` | 4–8 min   |
| fallback-spike       | path tracker: 95 % of steps fall back         | fallbackRate1h > 20 %                     | 9–11 min  |
| generate-errors      | path tracker: 25 % of steps fail              | generateErrorRate15m > 5 %                | 1.5–3 min |
| error-spike          | data pipeline: 12 % of requests answer 500    | 5xx / requests over 5 min > 5 %           | 2–3 min   |
| latency              | data pipeline: median 0.08 s → 0.6 s          | histogram p95 over 5 min > 1 s            | ~2 min    |
| queue-full           | metadata log flushes stall (BigQuery quota)   | metadata log queue > 90 % of capacity     | ~2 min    |
| brute-force          | ~8 auth failures/s from 203.0.113.66          | one source_ip > 1 failure/s over 5 min    | < 1 min   |
| service-down         | data pipeline: every endpoint answers 503     | `/health/ready` 503 not_ready (P1)        | at once   |

¹ digests go out every 10 minutes, so it trips with the next burst.
"""

from __future__ import annotations

import bisect
import math

SCENARIOS: tuple[str, ...] = (
    "normal",
    "conversion-stall",
    "emission-gap",
    "cardinality-overflow",
    "unsubscribe-spike",
    "crisis-sla",
    "debt-surge",
    "fallback-spike",
    "generate-errors",
    "error-spike",
    "latency",
    "queue-full",
    "brute-force",
    "service-down",
)


class Timeline:
    """Which scenario is active at a time; the models step through the past, so history is kept."""

    def __init__(self, scenario: str, onset: float) -> None:
        check_scenario(scenario)
        self._onsets: list[float] = [-math.inf if scenario == "normal" else onset]
        self._names: list[str] = [scenario]

    def switch(self, scenario: str, onset: float) -> None:
        """Activate `scenario` from `onset`; a switch earlier than the last one (a rewound clock) replaces it."""
        check_scenario(scenario)
        cut = bisect.bisect_left(self._onsets, onset)
        del self._onsets[cut:], self._names[cut:]
        self._onsets.append(onset)
        self._names.append(scenario)

    def at(self, t: float) -> tuple[str, float]:
        """(scenario, onset) in effect at `t`; before the first onset it is normal."""
        i = bisect.bisect_right(self._onsets, t) - 1
        if i < 0:
            return "normal", -math.inf
        return self._names[i], self._onsets[i]

    @property
    def current(self) -> str:
        return self._names[-1]


def describe() -> list[tuple[str, str]]:
    """(scenario, what changes → what it trips, and when) from the table above, for `--help`."""
    rows = {}
    for line in __doc__.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in SCENARIOS:
            rows[cells[0]] = f"{cells[1]} → {cells[2]} ({cells[3]})"
    return [(name, rows.get(name, "")) for name in SCENARIOS]


def check_scenario(name: str) -> None:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})")
