"""Two runs side by side: which verdicts changed, how each value moved.

Answers "what is different since last week's game day" from the two
summary.json files alone, so any two runs compare, also across contexts
or after the history was lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gauntlet.reporting.history import SeriesKey, ValueRecord, keyed
from gauntlet.reporting.summary import GuaranteeResult, RunSummary, Verdict
from gauntlet.reporting.trend import direction_of, floor_of
from gauntlet.reporting.trend_render import fit, format_value

__all__ = [
    "Comparison",
    "MeasurementChange",
    "VerdictChange",
    "compare_runs",
    "render_comparison",
]

SAME = 1e-3
"""Values within 0.1 % of each other are the same (float noise)."""
_GID_W, _VERDICT_W, _NAME_W, _UNIT_W, _NUM_W = 9, 7, 36, 10, 8


@dataclass(frozen=True)
class VerdictChange:
    """One guarantee's verdict in run A and run B (``None``: not run)."""

    guarantee: str
    a: Verdict | None
    b: Verdict | None

    @property
    def change(self) -> str:
        """``pass -> fail``, ``new``, ``gone`` or empty when the same."""
        if self.a == self.b:
            return ""
        if self.a is None:
            return "new"
        if self.b is None:
            return "gone"
        return f"{self.a} -> {self.b}"


@dataclass(frozen=True)
class MeasurementChange:
    """One measurement in both runs; a value is ``None`` when it failed
    or was not taken (``in_a``/``in_b`` say which)."""

    guarantee: str
    name: str
    unit: str
    bound: float | None
    a: float | None
    b: float | None
    in_a: bool
    in_b: bool

    @property
    def delta(self) -> float | None:
        """B minus A, when both have a value; 0 within float noise."""
        if self.a is None or self.b is None:
            return None
        delta = self.b - self.a
        if abs(delta) <= SAME * max(abs(self.a), abs(self.b)):
            return 0.0
        return delta

    @property
    def assessment(self) -> str:
        """``worse``/``better`` by the trend's direction rules when the
        change reaches the trend's floor, else empty (a small change, no
        direction, or a value missing)."""
        delta = self.delta
        if not delta or abs(delta) < floor_of(self.unit, self.bound):
            return ""
        value = ValueRecord(self.name, self.b, self.unit, self.bound)
        direction, _ = direction_of(value)
        if direction == "unknown":
            return ""
        worse = delta > 0 if direction == "higher-is-worse" else delta < 0
        return "worse" if worse else "better"

    @property
    def change(self) -> str:
        """``+0.5 (+49%) worse``, ``only in A``, ``failed in B``, ...;
        empty when the value is the same."""
        if not self.in_a:
            return "only in B"
        if not self.in_b:
            return "only in A"
        if self.a is None or self.b is None:
            side = "A" if self.a is None else "B"
            both = self.a is None and self.b is None
            return "failed in both" if both else f"failed in {side}"
        delta = self.delta or 0.0
        if delta == 0:
            return ""
        relative = f" ({_percent(delta / abs(self.a))})" if self.a else ""
        text = f"{delta:+.3g}{relative}"
        return f"{text} {self.assessment}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "guarantee": self.guarantee,
            "name": self.name,
            "unit": self.unit,
            "bound": self.bound,
            "a": self.a,
            "b": self.b,
            "in_a": self.in_a,
            "in_b": self.in_b,
            "delta": self.delta,
            "assessment": self.assessment,
            "change": self.change,
        }


@dataclass(frozen=True)
class Comparison:
    """Run A against run B."""

    a: RunSummary
    b: RunSummary
    verdicts: tuple[VerdictChange, ...]
    measurements: tuple[MeasurementChange, ...]

    @property
    def changed_verdicts(self) -> tuple[VerdictChange, ...]:
        """Only the guarantees whose verdict differs."""
        return tuple(v for v in self.verdicts if v.change)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "a": _identity(self.a),
            "b": _identity(self.b),
            "verdicts": [
                {
                    "guarantee": v.guarantee,
                    "a": v.a,
                    "b": v.b,
                    "change": v.change,
                }
                for v in self.verdicts
            ],
            "measurements": [m.to_dict() for m in self.measurements],
        }


def compare_runs(a: RunSummary, b: RunSummary) -> Comparison:
    """Pair guarantees by ID and measurements by (guarantee, name, unit),
    in A's order, then what only B has."""
    verdicts_a = {r.guarantee: r.verdict for r in a.results}
    verdicts_b = {r.guarantee: r.verdict for r in b.results}
    ids = list(verdicts_a) + [g for g in verdicts_b if g not in verdicts_a]
    verdicts = tuple(
        VerdictChange(g, verdicts_a.get(g), verdicts_b.get(g)) for g in ids
    )
    values_a, values_b = _values(a.results), _values(b.results)
    keys = list(values_a) + [k for k in values_b if k not in values_a]
    measurements = []
    for key in keys:
        one, two = values_a.get(key), values_b.get(key)
        bound = two.bound if two is not None else one.bound if one else None
        measurements.append(
            MeasurementChange(
                guarantee=key[0],
                name=key[1],
                unit=key[2],
                bound=bound,
                a=one.value if one else None,
                b=two.value if two else None,
                in_a=one is not None,
                in_b=two is not None,
            )
        )
    return Comparison(a, b, verdicts, tuple(measurements))


def render_comparison(comparison: Comparison) -> str:
    """Both tables, verdicts first, for the terminal."""
    a, b = comparison.a, comparison.b
    lines = [
        f"A {_describe(a)}",
        f"B {_describe(b)}",
        "",
        "VERDICTS",
        _verdict_row("GUARANTEE", "A", "B", "CHANGE"),
    ]
    for v in comparison.verdicts:
        lines.append(
            _verdict_row(v.guarantee, v.a or "-", v.b or "-", v.change)
        )
    changed = len(comparison.changed_verdicts)
    lines += [
        f"{changed} of {len(comparison.verdicts)} verdict(s) changed",
        "",
        "MEASUREMENTS",
        _value_row("GUARANTEE", "MEASUREMENT", "UNIT", "BOUND", "A", "B")
        + "  CHANGE",
    ]
    for m in comparison.measurements:
        lines.append(
            _value_row(
                m.guarantee,
                m.name,
                m.unit,
                "" if m.bound is None else format_value(m.bound),
                _cell(m.a, m.in_a),
                _cell(m.b, m.in_b),
            )
            + f"  {m.change}"
        )
    worse = sum(m.assessment == "worse" for m in comparison.measurements)
    better = sum(m.assessment == "better" for m in comparison.measurements)
    lines.append(
        f"{len(comparison.measurements)} measurement(s): {worse} worse, "
        f"{better} better"
    )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _values(
    results: tuple[GuaranteeResult, ...],
) -> dict[SeriesKey, ValueRecord]:
    """Measurements keyed like the trend's series."""
    return {
        key: value
        for result in results
        for key, value in keyed(
            result.guarantee,
            (
                ValueRecord(m.name, m.value, m.unit, m.bound)
                for m in result.measurements
            ),
        )
    }


def _percent(ratio: float) -> str:
    return f"{ratio:+.1%}" if abs(ratio) < 0.01 else f"{ratio:+.0%}"


def _identity(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "context": run.context,
        "profile": run.profile,
        "started": run.started,
        "ended": run.ended,
    }


def _describe(run: RunSummary) -> str:
    profile = run.profile or "no profile"
    return (
        f"{run.run_id}  {profile} on {run.context or 'current context'}, "
        f"{run.started}"
    )


def _cell(value: float | None, present: bool) -> str:
    return format_value(value) if present else "-"


def _verdict_row(gid: str, a: str, b: str, change: str) -> str:
    return " ".join(
        (fit(gid, _GID_W), fit(a, _VERDICT_W), fit(b, _VERDICT_W), change)
    )


def _value_row(
    gid: str, name: str, unit: str, bound: str, a: str, b: str
) -> str:
    return " ".join(
        (
            fit(gid, _GID_W),
            fit(name, _NAME_W),
            fit(unit, _UNIT_W),
            bound.rjust(_NUM_W),
            a.rjust(_NUM_W),
            b.rjust(_NUM_W),
        )
    )
