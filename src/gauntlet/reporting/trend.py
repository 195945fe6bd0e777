"""Measurements over the last runs of a context, and which got worse.

A game day is worth repeating only if someone is told when recovery got
slower. Each measurement (guarantee, name, unit) becomes a series over the
last N runs; its newest value is judged against the median of the values
before it. Worse by more than the margin (relative to that median) and by
at least an absolute floor (half a second, 5 ms, one count, one point of
a percentage, or a tenth of the bound if larger) is a regression, so that
noise on tiny values (0.10 s to 0.21 s) is never flagged.

A value missing from the newest run (not measured, or measuring failed)
is a regression when that run failed the guarantee: a step that misses
its bound ends the check before its value is recorded, so the worst
slowdown would otherwise show as a gap.

Which way is worse:

1. a bound is an upper bound (``Measurement.bound``): larger is worse;
2. no bound, a time unit (s, ms, ...): a duration or latency, larger is
   worse;
3. no bound, the name speaks of success, availability, throughput or
   failure tolerance (checked before rule 4, "fail" in it notwithstanding):
   smaller is worse;
4. no bound, the name speaks of failures, errors, outages or refusals:
   larger is worse;
5. anything else (node counts, versions) is shown but never judged.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gauntlet.reporting.history import RunRecord, SeriesKey, ValueRecord, keyed

__all__ = [
    "DEFAULT_LAST",
    "DEFAULT_MARGIN",
    "MIN_PREVIOUS",
    "Direction",
    "Judgement",
    "Point",
    "Series",
    "Trend",
    "build_trend",
    "direction_of",
    "floor_of",
]

DEFAULT_LAST = 10
DEFAULT_MARGIN = 0.20
"""Worse than the median of the previous runs by more than 20 %."""
MIN_PREVIOUS = 2
"""Previous values needed before a median means anything."""
BOUND_FLOOR = 0.10
"""The absolute floor is at least 10 % of the bound: a change that small
against the limit is noise, however large relative to the median."""
UNIT_FLOORS = {"s": 0.5, "ms": 5.0, "us": 500.0, "%": 1.0}
"""Smallest change worth flagging, per unit (``%``: percentage points);
counts move by 1."""
COUNT_FLOOR = 1.0
TIME_UNITS = frozenset({"s", "ms", "us", "min", "h"})
LOWER_IS_WORSE = (
    "success",
    "available",
    "throughput",
    "per second",
    "tolerance",
)
HIGHER_IS_WORSE = (
    "fail",
    "error",
    "outage",
    "refused",
    "violation",
    "timeout",
    "unhealthy",
    "missing",
    "5xx",
)

Direction = Literal["higher-is-worse", "lower-is-worse", "unknown"]
Status = Literal[
    "regression",
    "ok",
    "not enough history",
    "direction unknown",
    "no value",
    "not in newest run",
]
_MISSING: frozenset[Status] = frozenset({"not in newest run", "no value"})
"""A regression when the newest run failed the guarantee."""


@dataclass(frozen=True)
class Point:
    """One run's value of a series; ``None`` when measuring failed."""

    run_id: str
    value: float | None


@dataclass(frozen=True)
class Judgement:
    """The newest value against the median of the ones before it."""

    status: Status
    detail: str
    """One line: why, with the numbers."""
    median: float | None = None
    previous: int = 0
    """How many previous values the median was taken over."""


@dataclass(frozen=True)
class Series:
    """One measurement over the window, oldest first, with its judgement."""

    guarantee: str
    name: str
    unit: str
    bound: float | None
    """The newest run's bound."""
    direction: Direction
    why_direction: str
    points: tuple[Point, ...]
    judgement: Judgement

    @property
    def label(self) -> str:
        """``ARCH-08 deleted pod replaced`` for messages."""
        return f"{self.guarantee} {self.name}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "guarantee": self.guarantee,
            "name": self.name,
            "unit": self.unit,
            "bound": self.bound,
            "direction": self.direction,
            "why_direction": self.why_direction,
            "points": [
                {"run_id": p.run_id, "value": p.value} for p in self.points
            ],
            "status": self.judgement.status,
            "detail": self.judgement.detail,
            "median": self.judgement.median,
            "previous": self.judgement.previous,
        }


@dataclass(frozen=True)
class Trend:
    """The last runs of one context, every series and its judgement."""

    context: str
    profile: str | None
    """Only runs of this profile; ``None``: every profile."""
    runs: tuple[RunRecord, ...]
    margin: float
    series: tuple[Series, ...]

    @property
    def regressions(self) -> tuple[Series, ...]:
        """Series whose newest value is a regression."""
        return tuple(
            s for s in self.series if s.judgement.status == "regression"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "context": self.context,
            "profile": self.profile,
            "margin": self.margin,
            "runs": [
                {
                    "run_id": r.run_id,
                    "started": r.started,
                    "ended": r.ended,
                    "profile": r.profile,
                }
                for r in self.runs
            ],
            "series": [s.to_dict() for s in self.series],
            "regressions": [s.label for s in self.regressions],
        }


def direction_of(value: ValueRecord) -> tuple[Direction, str]:
    """Which way is worse for ``value``, and the rule that says so."""
    if value.bound is not None:
        return "higher-is-worse", "upper bound"
    if value.unit in TIME_UNITS:
        return "higher-is-worse", "a duration"
    name = value.name.lower()
    for word in LOWER_IS_WORSE:
        if word in name:
            return "lower-is-worse", f"name says {word!r}"
    for word in HIGHER_IS_WORSE:
        if word in name:
            return "higher-is-worse", f"name says {word!r}"
    return "unknown", "no bound, not a duration, name gives no direction"


def floor_of(unit: str, bound: float | None) -> float:
    """The smallest worsening flagged, in ``unit``."""
    floor = UNIT_FLOORS.get(unit, COUNT_FLOOR)
    if bound is not None:
        floor = max(floor, BOUND_FLOOR * abs(bound))
    return floor


def build_trend(
    runs: Sequence[RunRecord],
    context: str,
    *,
    profile: str | None = None,
    last: int = DEFAULT_LAST,
    margin: float = DEFAULT_MARGIN,
) -> Trend:
    """The trend of the last ``last`` of ``runs`` (oldest first), of
    ``profile`` only when given (a gate's series are not a game day's).

    Every measurement seen in the window becomes a series, in the order
    first seen; only the newest run's values are judged (CI gates on the
    run that just ended, and an old regression must not fail every later
    build).
    """
    if profile is not None:
        runs = [r for r in runs if r.profile == profile]
    window = tuple(runs[-last:]) if last > 0 else ()
    points: dict[SeriesKey, list[Point]] = {}
    newest: dict[SeriesKey, ValueRecord] = {}
    for run in window:
        for result in run.guarantees:
            for key, value in keyed(result.guarantee, result.measurements):
                point = Point(run.run_id, value.value)
                points.setdefault(key, []).append(point)
                newest[key] = value
    newest_id = window[-1].run_id if window else ""
    failed = (
        {g.guarantee for g in window[-1].guarantees if g.verdict == "fail"}
        if window
        else set()
    )
    series = []
    for key, series_points in points.items():
        value = newest[key]
        direction, why = direction_of(value)
        judgement = _judge(series_points, newest_id, value, direction, margin)
        if key[0] in failed and judgement.status in _MISSING:
            judgement = _missing_in_failed_run(
                key[0], series_points, newest_id, value, direction, judgement
            )
        series.append(
            Series(
                guarantee=key[0],
                name=key[1],
                unit=key[2],
                bound=value.bound,
                direction=direction,
                why_direction=why,
                points=tuple(series_points),
                judgement=judgement,
            )
        )
    return Trend(context, profile, window, margin, tuple(series))


def _judge(
    points: Sequence[Point],
    newest_id: str,
    newest: ValueRecord,
    direction: Direction,
    margin: float,
) -> Judgement:
    if points[-1].run_id != newest_id:
        return Judgement("not in newest run", "not measured in the newest run")
    if newest.value is None:
        return Judgement("no value", "measuring failed in the newest run")
    previous = [p.value for p in points[:-1] if p.value is not None]
    if len(previous) < MIN_PREVIOUS:
        return Judgement(
            "not enough history",
            f"{len(previous)} previous value(s), need {MIN_PREVIOUS}",
            previous=len(previous),
        )
    median = statistics.median(previous)
    if direction == "unknown":
        return Judgement(
            "direction unknown",
            "no bound and no rule says which way is worse",
            median,
            len(previous),
        )
    worse_by = newest.value - median
    if direction == "lower-is-worse":
        worse_by = -worse_by
    floor = floor_of(newest.unit, newest.bound)
    unit = f" {newest.unit}" if newest.unit else ""
    detail = (
        f"{newest.value:.3g}{unit} against median {median:.3g}{unit} of "
        f"{len(previous)} previous runs ({_change(worse_by, median)}; "
        f"margin {margin:.0%}, floor {floor:g}{unit})"
    )
    if worse_by > margin * abs(median) and worse_by >= floor:
        return Judgement("regression", detail, median, len(previous))
    return Judgement("ok", detail, median, len(previous))


def _missing_in_failed_run(
    guarantee: str,
    points: Sequence[Point],
    newest_id: str,
    newest: ValueRecord,
    direction: Direction,
    missing: Judgement,
) -> Judgement:
    """A value the newest run lacks while failing its guarantee: a
    regression against enough earlier values (else ``missing`` stands)."""
    previous = [
        p.value for p in points if p.run_id != newest_id and p.value is not None
    ]
    if len(previous) < MIN_PREVIOUS or direction == "unknown":
        return missing
    median = statistics.median(previous)
    unit = f" {newest.unit}" if newest.unit else ""
    detail = (
        f"{missing.detail}, which failed {guarantee}; median {median:.3g}"
        f"{unit} of {len(previous)} previous runs"
    )
    return Judgement("regression", detail, median, len(previous))


def _change(worse_by: float, median: float) -> str:
    """``+45% worse``, ``12% better``, ``unchanged``."""
    if worse_by == 0:
        return "unchanged"
    word = "worse" if worse_by > 0 else "better"
    if not median:
        return f"{abs(worse_by):.3g} {word} than 0"
    return f"{abs(worse_by) / abs(median):.0%} {word}"
