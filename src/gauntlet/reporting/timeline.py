"""What happened during one test, on one time axis, for its timeline plot.

A check's context carries a ``Timeline``. The fault ledger opens and
closes its windows, measurements taken over a span become events at the
moment they measured (``NotReady``: 41 s after the kubelet stopped), the
write probes' history, the Service client's log and the cluster
sampler's node states become series. The plot is drawn from the same
records the verdict was judged on, never from a second observation.

Times are epoch seconds; monotonic times (the write history's) are
turned into epoch with the offset taken when the timeline was made.
Safe to feed from several threads (the sampler runs in its own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gauntlet.reporting.measurements import Measurement
from gauntlet.reporting.plots import (
    Event,
    Panel,
    Series,
    Style,
    Window,
    timeline_svg,
)

__all__ = ["Timeline", "epoch_of_iso"]

MAX_EVENTS_LABELLED = 24
"""Beyond this, the plot would be unreadable: the rest are counted in
the data attachment but not drawn."""


def epoch_of_iso(text: str) -> float:
    """``2026-12-02T10:00:00.123Z`` as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class _Line:
    panel: str
    label: str
    style: Style
    color: str | None
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Timeline:
    """One test's fault windows, events and measured series."""

    title: str
    _offset: float = field(
        default_factory=lambda: time.time() - time.monotonic()
    )
    _events: list[Event] = field(default_factory=list)
    _windows: list[Window] = field(default_factory=list)
    _open: dict[str, tuple[float, str]] = field(default_factory=dict)
    _lines: dict[tuple[str, str], _Line] = field(default_factory=dict)
    _panels: dict[str, bool] = field(default_factory=dict)
    """Panel names in the order first fed, and whether each is a share
    (values 0..1, ``Panel.share``)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def epoch(self, monotonic: float) -> float:
        """The epoch second of a ``time.monotonic()`` reading."""
        return monotonic + self._offset

    def event(self, label: str, at: float | None = None) -> None:
        """A moment worth a marker (epoch ``at``, default now)."""
        with self._lock:
            self._events.append(Event(time.time() if at is None else at, label))

    def open_window(
        self, key: str, label: str, at: float | None = None
    ) -> None:
        """A span beginning now (a fault), ended by ``close_window``."""
        with self._lock:
            self._open[key] = (time.time() if at is None else at, label)

    def close_window(self, key: str, at: float | None = None) -> None:
        """End the span opened under ``key`` (unknown keys are ignored:
        a fault opened before the timeline began is not this test's)."""
        with self._lock:
            found = self._open.pop(key, None)
            if found is not None:
                start, label = found
                end = time.time() if at is None else at
                self._windows.append(Window(start, max(start, end), label))

    def series(
        self,
        panel: str,
        label: str,
        points: Sequence[tuple[float, float]],
        style: Style = "line",
        color: str | None = None,
        share: bool = False,
    ) -> None:
        """Set a whole series (epoch, value), replacing one of that name;
        ``share``: the panel's values are 0..1."""
        with self._lock:
            self._panels.setdefault(panel, share)
            self._lines[(panel, label)] = _Line(
                panel, label, style, color, sorted(points)
            )

    def sample(
        self,
        panel: str,
        label: str,
        value: float,
        at: float | None = None,
        style: Style = "line",
        color: str | None = None,
        share: bool = False,
    ) -> None:
        """Add one point to a series (made on first use)."""
        with self._lock:
            self._panels.setdefault(panel, share)
            line = self._lines.setdefault(
                (panel, label), _Line(panel, label, style, color)
            )
            line.points.append((time.time() if at is None else at, value))

    def measured(self, measurement: Measurement) -> None:
        """A measurement taken over a span marks the moment it ended:
        the plot shows when the cluster reached what was timed."""
        if measurement.start == measurement.end or measurement.value is None:
            return
        value = f"{measurement.value:.3g} {measurement.unit}".strip()
        self.event(
            f"{measurement.name}: {value}", epoch_of_iso(measurement.end)
        )

    def empty(self) -> bool:
        """Nothing at all was fed (no window, event or point)."""
        with self._lock:
            return not (
                self._events
                or self._windows
                or self._open
                or any(line.points for line in self._lines.values())
            )

    def svg(self, order: Sequence[str] = ()) -> bytes:
        """The timeline as SVG: a panel per fed panel name (those in
        ``order`` first, in that order), open windows drawn up to now."""
        windows, events, panels = self._snapshot(order)
        starts = [w.start for w in windows] + [e.at for e in events]
        starts += [s.points[0][0] for p in panels for s in p.series if s.points]
        return timeline_svg(
            self.title,
            panels or [Panel([], "nothing measured")],
            origin=min(starts) if starts else time.time(),
            windows=windows,
            events=events[:MAX_EVENTS_LABELLED],
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything the plot is drawn from, for the JSON attachment."""
        windows, events, panels = self._snapshot(())
        return {
            "title": self.title,
            "windows": [vars(w) for w in windows],
            "events": [vars(e) for e in events],
            "series": [
                {"panel": p.y_label, "label": s.label, "points": s.points}
                for p in panels
                for s in p.series
            ],
        }

    def _snapshot(
        self, order: Sequence[str]
    ) -> tuple[list[Window], list[Event], list[Panel]]:
        now = time.time()
        with self._lock:
            windows = list(self._windows) + [
                Window(start, now, f"{label} (still open)")
                for start, label in self._open.values()
            ]
            events = sorted(self._events, key=lambda e: e.at)
            panels = [
                Panel(
                    [
                        Series(
                            line.label,
                            sorted(line.points),
                            line.style,
                            line.color,
                        )
                        for line in self._lines.values()
                        if line.panel == name
                    ],
                    name,
                    share=self._panels[name],
                )
                for name in sorted(self._panels, key=_rank(order))
            ]
        return windows, events, panels


def _rank(order: Sequence[str]) -> Callable[[str], int]:
    """Sort key: panels named in ``order`` first, the rest after."""
    return lambda name: order.index(name) if name in order else len(order)
