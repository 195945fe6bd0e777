"""Just enough of the Prometheus text format for etcd's metrics."""

from __future__ import annotations

import math
import re

Samples = dict[tuple[str, str], float]
"""(metric name, raw label text) -> value."""

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LE = re.compile(r'le="([^"]+)"')


def parse(text: str) -> Samples:
    """Every sample line of an exposition (comments skipped)."""
    samples: Samples = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        name, labels, raw = match.groups()
        try:
            samples[(name, labels or "")] = float(raw)
        except ValueError:
            continue
    return samples


def value(samples: Samples, name: str) -> float:
    """The sum of a metric over its label sets (0 when absent)."""
    return sum(v for (n, _), v in samples.items() if n == name)


def has(samples: Samples, name: str) -> bool:
    """Whether the exposition has ``name`` at all (absent is not 0)."""
    return any(n == name for n, _ in samples)


def buckets(samples: Samples, histogram: str) -> dict[float, float]:
    """Cumulative bucket counts of a histogram by upper bound."""
    found: dict[float, float] = {}
    for (name, labels), count in samples.items():
        if name != f"{histogram}_bucket":
            continue
        le = _LE.search(labels)
        if le is not None:
            bound = float(le.group(1))
            found[bound] = found.get(bound, 0.0) + count
    return found


def bucket_deltas(
    first: Samples, last: Samples, histogram: str
) -> dict[float, float]:
    """Observations per cumulative bucket during the window.

    A counter that went backwards (the member restarted) counts from zero.
    """
    before, after = buckets(first, histogram), buckets(last, histogram)
    reset = any(after.get(le, 0.0) < n for le, n in before.items())
    if reset:
        return after
    return {le: n - before.get(le, 0.0) for le, n in after.items()}


def histogram_quantile(
    q: float, cumulative: dict[float, float]
) -> float | None:
    """Prometheus' interpolation; None without observations."""
    if not cumulative:
        return None
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            if width <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (
                (rank - lower_count) / width
            )
        lower_bound, lower_count = bound, count
    return bounds[-1]
