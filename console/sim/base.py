"""What every simulated service shares: lazy 1-second stepping, the daily load shape, trailing windows, draws."""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Sequence

from .scenarios import Timeline

MAX_STEPS = 2 * 86400  # beyond two days behind, the model jumps instead of stepping through it
DAY = 86400.0


class Model:
    """A service's state, advanced lazily in 1 s steps from its last model time to the clock's now.

    Steps sit on a fixed grid (start + k seconds) and each consumes the model's own seeded RNG, so
    the state at a time depends only on the seed, the scenario timeline and the mutations received,
    never on how often it was polled in between.
    """

    name = "model"

    def __init__(self, clock, timeline: Timeline, seed: int) -> None:
        self.clock = clock
        self.timeline = timeline
        self.rng = random.Random(f"{seed}:{self.name}")  # str seeds hash the same in every process
        self.started = clock.now()
        self.t = self.started
        self._burst_until = -math.inf
        self._burst_gain = 1.0

    def advance(self, now: float | None = None) -> None:
        """Step up to `now` (default: the clock). A clock moved backwards leaves the model as it is."""
        now = self.clock.now() if now is None else now
        steps = int(now - self.t)
        if steps <= 0:
            return
        if steps > MAX_STEPS:
            self.t += steps - MAX_STEPS  # the skipped span leaves no trace in the counters
            steps = MAX_STEPS
        for _ in range(steps):
            self.t += 1.0
            scenario, onset = self.timeline.at(self.t)
            self.step(self.t, scenario, self.t - onset)

    def step(self, t: float, scenario: str, since: float) -> None:
        """One second of the service's life ending at `t`; `since` = seconds into `scenario`."""
        raise NotImplementedError

    def load(self, t: float) -> float:
        """Multiplier on the base rates: daily sinusoid (peak 15:00 UTC) × occasional burst × noise."""
        hour = (t % DAY) / 3600.0
        daily = 1.0 + 0.35 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        if t >= self._burst_until and self.rng.random() < 1 / 1800:
            self._burst_until = t + self.rng.randint(30, 120)
            self._burst_gain = self.rng.uniform(1.8, 3.0)
        burst = self._burst_gain if t < self._burst_until else 1.0
        return max(0.05, daily * burst * (1.0 + 0.1 * self.rng.gauss(0.0, 1.0)))


class Window:
    """Sums of increments over a trailing span; only non-zero increments are stored."""

    def __init__(self, seconds: float, width: int) -> None:
        self.seconds = seconds
        self._items: deque[tuple[float, int, int]] = deque()
        self._sums = [0] * width

    def add(self, t: float, index: int, n: int = 1) -> None:
        if n:
            self._items.append((t, index, n))
            self._sums[index] += n

    def sums(self, now: float) -> list[int]:
        """Totals of the increments in (now - seconds, now]."""
        items, cut = self._items, now - self.seconds
        while items and items[0][0] <= cut:
            _, index, n = items.popleft()
            self._sums[index] -= n
        return list(self._sums)


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw; Knuth for small means, a rounded normal above 30 (cheap and close enough)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    """Binomial draw: Poisson limit for rare events, exact for small n, a clamped normal for large n."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if p < 0.05 and n * p < 30:  # rare events: the Poisson limit, one or two draws instead of n
        return min(n, poisson(rng, n * p))
    if n < 50:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean = n * p
    return min(n, max(0, round(rng.gauss(mean, math.sqrt(mean * (1 - p))))))


def split(rng: random.Random, n: int, weights: Sequence[float]) -> list[int]:
    """Multinomial draw of `n` over `weights` (sequential binomials)."""
    out, left, rest = [], n, float(sum(weights))
    for w in weights[:-1]:
        k = binomial(rng, left, w / rest) if rest > 0 else 0
        out.append(k)
        left -= k
        rest -= w
    out.append(left)
    return out


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    """P(X <= x) for a log-normal with the given median and shape."""
    return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))


def bucket_weights(bounds: Sequence[float], median: float, sigma: float) -> list[float]:
    """Probability of each histogram bucket (the last is +Inf) under a log-normal."""
    cdf = [lognormal_cdf(b, median, sigma) for b in bounds]
    return [hi - lo for lo, hi in zip([0.0] + cdf, cdf + [1.0])]
