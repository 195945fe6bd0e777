"""Per-guarantee verdicts for a run: summary.json and the end-of-run table.

Tests are the unit pytest knows; guarantees are the unit a cluster owner
cares about. This module folds the first into the second in one place, so
the JSON, the terminal table and any later report agree on every verdict.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from gauntlet.reporting.measurements import Measurement
from gauntlet.reporting.parts import PartResult, merge_parts, parts_line

__all__ = [
    "CaseOutcome",
    "GuaranteeResult",
    "Outcome",
    "RunSummary",
    "Verdict",
    "build_summary",
    "judge",
    "render_table",
    "write_summary",
]

Verdict = Literal["pass", "fail", "skip", "error"]
Outcome = Literal["passed", "failed", "error", "skipped"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "skip", "error")

_ID_W, _VERDICT_W, _PARTS_W, _MEASURE_W, _MESSAGE_W = 10, 8, 5, 48, 60
_MAX_MEASUREMENTS = 3


@dataclass(frozen=True)
class CaseOutcome:
    """How one test ended, and what it measured."""

    nodeid: str
    guarantee: str
    outcome: Outcome
    message: str = ""
    """First line of the failure, or the skip reason."""
    measurements: tuple[Measurement, ...] = ()
    parts: tuple[PartResult, ...] = ()


@dataclass(frozen=True)
class GuaranteeResult:
    """The verdict on one guarantee, with the tests and values behind it."""

    guarantee: str
    verdict: Verdict
    tests: tuple[str, ...]
    measurements: tuple[Measurement, ...]
    message: str
    parts: tuple[PartResult, ...] = ()
    """What the checks proved, what they could not see, and why."""

    @property
    def parts_cell(self) -> str:
        """``checked/applicable`` for the table, empty without parts."""
        applicable = [p for p in self.parts if p.status != "not-applicable"]
        if not applicable:
            return ""
        seen = sum(p.status != "unobserved" for p in applicable)
        return f"{seen}/{len(applicable)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used in summary.json."""
        return {
            "guarantee": self.guarantee,
            "verdict": self.verdict,
            "message": self.message,
            "tests": list(self.tests),
            "measurements": [m.to_dict() for m in self.measurements],
            "parts": [p.to_dict() for p in self.parts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuaranteeResult:
        """Inverse of ``to_dict``."""
        verdict = data["verdict"]
        if verdict not in VERDICTS:
            raise ValueError(f"verdict {verdict!r}: not one of {VERDICTS}")
        return cls(
            guarantee=str(data["guarantee"]),
            verdict=cast(Verdict, verdict),
            tests=tuple(str(t) for t in data["tests"]),
            measurements=tuple(
                Measurement.from_dict(m) for m in data["measurements"]
            ),
            message=str(data["message"]),
            parts=tuple(PartResult.from_dict(p) for p in data.get("parts", ())),
        )


@dataclass(frozen=True)
class RunSummary:
    """What summary.json holds: the run's identity and every verdict."""

    run_id: str
    context: str | None
    profile: str | None
    started: str
    ended: str
    results: tuple[GuaranteeResult, ...]
    strict: bool = False
    """Unobserved parts failed their guarantee (``gauntlet run --strict``)."""

    @property
    def totals(self) -> dict[Verdict, int]:
        """Number of guarantees per verdict (all four keys present)."""
        counts: dict[Verdict, int] = dict.fromkeys(VERDICTS, 0)
        for result in self.results:
            counts[result.verdict] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``totals`` is derived, stored for readers."""
        return {
            "run_id": self.run_id,
            "context": self.context,
            "profile": self.profile,
            "started": self.started,
            "ended": self.ended,
            "strict": self.strict,
            "totals": dict(self.totals),
            "guarantees": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """Inverse of ``to_dict`` (``totals`` is recomputed)."""
        return cls(
            run_id=str(data["run_id"]),
            context=data.get("context"),
            profile=data.get("profile"),
            started=str(data["started"]),
            ended=str(data["ended"]),
            results=tuple(
                GuaranteeResult.from_dict(r) for r in data["guarantees"]
            ),
            strict=bool(data.get("strict", False)),
        )


def judge(
    outcomes: Sequence[CaseOutcome], strict: bool = False
) -> tuple[Verdict, str]:
    """Fold one guarantee's test outcomes into a verdict and a message.

    Any failure fails the guarantee, then any error makes it ``error``;
    all skipped is ``skip`` with the reasons, so that a hidden component
    is never reported as a pass. A pass that left parts unobserved says
    so ("pass, 2 of 4 parts"); with ``strict`` it is a failure.
    """
    verdict, message = _judge_outcomes(outcomes)
    if verdict != "pass":
        return verdict, message
    partial = parts_line(merge_parts(p for o in outcomes for p in o.parts))
    if not partial:
        return verdict, message
    if strict:
        return "fail", f"strict: {partial}"
    return "pass", "; ".join(m for m in (partial, message) if m)


def _judge_outcomes(outcomes: Sequence[CaseOutcome]) -> tuple[Verdict, str]:
    if not outcomes:
        return "skip", "no test ran"
    by: dict[Outcome, list[CaseOutcome]] = {
        o: [] for o in ("passed", "failed", "error", "skipped")
    }
    for outcome in outcomes:
        by[outcome.outcome].append(outcome)
    many = len(outcomes) > 1
    if by["failed"]:
        return "fail", _messages(by["failed"], prefix=many)
    if by["error"]:
        return "error", _messages(by["error"], prefix=many)
    if not by["passed"]:
        return "skip", _messages(by["skipped"], prefix=False)
    if by["skipped"]:
        reasons = _messages(by["skipped"], prefix=False)
        return "pass", f"{len(by['skipped'])} skipped: {reasons}"
    return "pass", ""


def build_summary(
    outcomes: Iterable[CaseOutcome],
    *,
    run_id: str,
    context: str | None,
    profile: str | None,
    started: str,
    ended: str,
    order: Sequence[str] = (),
    strict: bool = False,
) -> RunSummary:
    """Group outcomes by guarantee and judge each group.

    ``order`` (catalogue order) sorts the results; IDs not in it follow in
    the order they were first seen.
    """
    groups: dict[str, list[CaseOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.guarantee, []).append(outcome)
    rank = {gid: i for i, gid in enumerate(order)}
    ids = sorted(groups, key=lambda gid: rank.get(gid, len(rank)))
    results = []
    for gid in ids:
        cases = groups[gid]
        verdict, message = judge(cases, strict)
        results.append(
            GuaranteeResult(
                guarantee=gid,
                verdict=verdict,
                tests=tuple(c.nodeid for c in cases),
                measurements=tuple(m for c in cases for m in c.measurements),
                message=message,
                parts=merge_parts(p for c in cases for p in c.parts),
            )
        )
    return RunSummary(
        run_id, context, profile, started, ended, tuple(results), strict
    )


def write_summary(summary: RunSummary, path: Path) -> Path:
    """Write summary.json atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary.to_dict(), indent=2, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def render_table(summary: RunSummary) -> str:
    """Plain-text table, fixed-width columns, one block per guarantee."""
    where = summary.context or "current context"
    profile = f", profile {summary.profile}" if summary.profile else ""
    lines = [
        f"kube-gauntlet run {summary.run_id} on {where}{profile}",
        _row("GUARANTEE", "VERDICT", "PARTS", "MEASUREMENTS", "MESSAGE"),
        _row(
            "-" * _ID_W,
            "-" * _VERDICT_W,
            "-" * _PARTS_W,
            "-" * _MEASURE_W,
            "-" * 7,
        ),
    ]
    for result in summary.results:
        cells = _measurement_cells(result.measurements)
        lines.append(
            _row(
                result.guarantee,
                result.verdict.upper(),
                result.parts_cell,
                cells[0],
                _one_line(result.message),
            )
        )
        lines.extend(_row("", "", "", cell, "") for cell in cells[1:])
    totals = summary.totals
    counts = ", ".join(f"{totals[v]} {v}" for v in VERDICTS)
    lines.append(f"{len(summary.results)} guarantees: {counts}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _messages(cases: Sequence[CaseOutcome], *, prefix: bool) -> str:
    seen: list[str] = []
    for case in cases:
        text = _one_line(case.message) or case.outcome
        if prefix:
            text = f"{case.nodeid.rpartition('::')[2]}: {text}"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def _measurement_cells(measurements: Sequence[Measurement]) -> list[str]:
    """Key measurements first: over their bound, then bounded, then rest."""
    ranked = sorted(
        measurements, key=lambda m: (not m.exceeds_bound, m.bound is None)
    )
    cells = [m.short(_MEASURE_W) for m in ranked[:_MAX_MEASUREMENTS]]
    extra = len(ranked) - _MAX_MEASUREMENTS
    if extra > 0:
        cells.append(f"+{extra} more in summary.json")
    return cells or [""]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: width - 3] + "..."


def _row(gid: str, verdict: str, parts: str, measure: str, message: str) -> str:
    return " ".join(
        (
            _fit(gid, _ID_W),
            _fit(verdict, _VERDICT_W),
            _fit(parts, _PARTS_W),
            _fit(measure, _MEASURE_W),
            _fit(message, _MESSAGE_W),
        )
    )
