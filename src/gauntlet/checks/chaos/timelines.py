"""A RES or PART check's timeline: fed while it runs, drawn when it ends.

``recorded`` wraps a check: the fault ledger's windows (open to done),
the cluster sampler's node states, leaders and pod restarts, and what
the check itself feeds (its spanned measurements, its write history,
its Service client's log) are attached as one SVG, with the data it is
drawn from as JSON. A timeline is evidence, never a verdict: drawing
one that fails is a warning in the report, not a failed check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from gauntlet.checks.context import CheckContext
from gauntlet.faults.ledger import FaultLedger, LedgerEntry, LedgerListener
from gauntlet.observe.history import Operation
from gauntlet.observe.sampler import API_PANEL, NODES_PANEL, ClusterSampler
from gauntlet.reporting import attach
from gauntlet.reporting.timeline import Timeline

__all__ = [
    "SERVICE_PANEL",
    "WRITES_PANEL",
    "ledger_windows",
    "recorded",
    "service_points",
    "write_history",
]

WRITES_PANEL = "API writes: seconds to answer"
SERVICE_PANEL = "Service requests answered (share per second)"
_RESULTS = {
    "ok": ("acknowledged", "tab:green"),
    "fail": ("refused", "tab:orange"),
    "timeout": ("no answer / indeterminate", "tab:red"),
}
_ORDER = (SERVICE_PANEL, WRITES_PANEL, NODES_PANEL, API_PANEL)


def ledger_windows(timeline: Timeline) -> LedgerListener:
    """A ledger listener that shades each fault from its record to its
    end (rolled back, or ended by its node) and marks its injection."""

    def told(what: str, entry: LedgerEntry) -> None:
        key = str(entry.seq)
        if what == "open":
            timeline.open_window(key, entry.description)
        elif what == "injected":
            timeline.event(f"injected: {entry.description}")
        elif what == "done":
            timeline.close_window(key)

    return told


@contextlib.contextmanager
def recorded(ctx: CheckContext, ledger: FaultLedger) -> Iterator[Timeline]:
    """Feed ``ctx.timeline`` while the block runs; attach it after,
    also when the block fails."""
    timeline = ctx.timeline
    sampler = ClusterSampler(ctx.cluster, ctx.namespace, timeline)
    try:
        with ledger.listening(ledger_windows(timeline)), sampler:
            yield timeline
    finally:
        _attach(timeline, sampler.error)


def write_history(timeline: Timeline, ops: Sequence[Operation]) -> None:
    """The write probes' answers: one marker per write at the moment it
    was sent, at the seconds it took, coloured by its outcome."""
    for result, (label, color) in _RESULTS.items():
        points = [
            (timeline.epoch(op.start), op.end - op.start)
            for op in ops
            if op.kind == "write" and op.result == result
        ]
        if points:
            timeline.series(WRITES_PANEL, label, points, "markers", color)


def service_points(
    lines: Sequence[tuple[int, bool]],
) -> list[tuple[float, float]]:
    """(epoch second, answered?) log lines as the share answered in each
    second, drawn at the middle of the second."""
    seconds: dict[int, list[bool]] = {}
    for second, ok in lines:
        seconds.setdefault(second, []).append(ok)
    return [
        (second + 0.5, sum(oks) / len(oks))
        for second, oks in sorted(seconds.items())
    ]


def _attach(timeline: Timeline, sampler_error: str) -> None:
    if sampler_error:
        timeline.event(f"sampler stopped: {sampler_error[:80]}")
    try:
        svg = timeline.svg(order=_ORDER)
    except (ValueError, RuntimeError, OSError) as exc:
        attach.attach_text(
            "timeline: not drawn", f"{type(exc).__name__}: {exc}"
        )
        return
    attach.attach_svg(f"timeline: {timeline.title}", svg)
    attach.attach_json("timeline data", timeline.to_dict())
