"""Timelines for the report, as SVG bytes to attach.

``timeline_svg`` draws named series of (epoch second, value) on one or
more stacked panels sharing the time axis, with shaded windows (a fault,
an outage) and event markers; the load plots (latency and throughput
per second per request class) are built on it, and game-day timelines
can be too.

A plot never shows nothing as if it were data: a panel without a single
point says "no samples" across it and its title says so; a series
without points is named "(no samples)" in the legend.

matplotlib is imported when a plot is drawn (the CLI starts without
it), and only its object API is used: no pyplot, so no process-wide
backend is chosen; the SVG (or Agg for PNG) canvas prints the figure.
Text stays text in the SVG (searchable, testable) and ids are salted
with a constant, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "NO_SAMPLES",
    "Event",
    "Panel",
    "SecondCounts",
    "Series",
    "Window",
    "load_overview_svg",
    "request_class_svg",
    "timeline_png",
    "timeline_svg",
]

NO_SAMPLES = "no samples"
MAX_WINDOWS_NAMED = 3
"""More windows than this are named once, as a count, in the legend."""
Style = Literal["line", "dashed", "markers", "steps"]
_FAILURE_COLORS = {
    "429 (shed)": "tab:orange",
    "5xx": "tab:red",
    "no response": "black",
    "other failures": "tab:purple",
}


@dataclass(frozen=True)
class Series:
    """One named line: (epoch seconds, value) points."""

    label: str
    points: Sequence[tuple[float, float]]
    style: Style = "line"
    color: str | None = None


@dataclass(frozen=True)
class Window:
    """A shaded span, e.g. the fault's window."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class Event:
    """A vertical marker, e.g. ``etcd leader killed``."""

    at: float
    label: str


@dataclass(frozen=True)
class Panel:
    """One axes of a timeline."""

    series: Sequence[Series]
    y_label: str
    log_y: bool = False
    bounds: Sequence[tuple[float, str]] = ()
    """Horizontal dashed lines (value, label), e.g. an SLO bound."""
    share: bool = False
    """Values are 0..1 (a share, a yes/no state): the axis shows 0 to 1
    whatever was seen, so a flat 1 does not look like a wobble."""


class SecondCounts(Protocol):
    """One request name during one second (``load.outcomes.Second``)."""

    @property
    def ok(self) -> int: ...

    @property
    def failed(self) -> Mapping[int, int]: ...

    @property
    def times(self) -> Mapping[int, int]: ...


def timeline_svg(
    title: str,
    panels: Sequence[Panel],
    *,
    origin: float,
    windows: Sequence[Window] = (),
    events: Sequence[Event] = (),
) -> bytes:
    """SVG of ``panels`` stacked over one time axis, in seconds since
    ``origin`` (epoch); windows and events are drawn on every panel.

    Raises:
        ValueError: no panel.
    """
    return _timeline(title, panels, origin, windows, events, "svg")


def timeline_png(
    title: str,
    panels: Sequence[Panel],
    *,
    origin: float,
    windows: Sequence[Window] = (),
    events: Sequence[Event] = (),
) -> bytes:
    """``timeline_svg`` as a PNG (Agg), for viewers without SVG.

    Raises:
        ValueError: no panel.
    """
    return _timeline(title, panels, origin, windows, events, "png")


def _timeline(
    title: str,
    panels: Sequence[Panel],
    origin: float,
    windows: Sequence[Window],
    events: Sequence[Event],
    fmt: Literal["svg", "png"],
) -> bytes:
    if not panels:
        raise ValueError(f"{title}: a timeline needs at least one panel")
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    empty = not any(s.points for p in panels for s in p.series)
    with rc_context({"svg.hashsalt": "kube-gauntlet", "svg.fonttype": "none"}):
        fig = Figure(figsize=(9.0, 2.2 + 2.4 * len(panels)))
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)
        for i, (ax, panel) in enumerate(zip(axes[:, 0], panels, strict=True)):
            _draw_panel(ax, panel, origin, windows, events, labels=i == 0)
        axes[-1, 0].set_xlabel(f"seconds since {_utc(origin)}")
        fig.suptitle(f"{title} ({NO_SAMPLES})" if empty else title)
        fig.tight_layout()
        out = io.BytesIO()
        if fmt == "svg":
            fig.savefig(out, format="svg", metadata={"Date": None})
        else:
            fig.savefig(out, format="png", dpi=100, metadata={"Software": None})
    return out.getvalue()


def request_class_svg(
    name: str,
    seconds: Mapping[int, SecondCounts],
    *,
    origin: float,
    bound_s: float | None,
    timed: bool = True,
    span: tuple[float, float] | None = None,
    windows: Sequence[Window] = (),
    events: Sequence[Event] = (),
) -> bytes:
    """Latency (p50, p99 per second, log scale, the SLO bound dashed)
    and throughput (successes per second; 429, 5xx, no response and
    other failures marked apart) of one request name. ``timed=False``
    (watches): throughput and events received (``events``) only.
    ``span`` (epoch start, end): the seconds to count, so a second
    without requests counts 0."""
    throughput = Panel(_throughput(name, seconds, span), "requests / s")
    if not timed:
        received = Series(
            "events received",
            _per_second(seconds, lambda s: getattr(s, "events", 0), span),
            color="tab:blue",
        )
        throughput = Panel([*throughput.series, received], "per second")
        return timeline_svg(
            f"{name}: throughput",
            [throughput],
            origin=origin,
            windows=windows,
            events=events,
        )
    latency = Panel(
        [
            Series("p50", _quantiles(seconds, 0.50)),
            Series("p99", _quantiles(seconds, 0.99)),
        ],
        "latency of successes (s)",
        log_y=True,
        bounds=[(bound_s, f"SLO p99 <= {bound_s:g} s")] if bound_s else [],
    )
    return timeline_svg(
        f"{name}: latency and throughput",
        [latency, throughput],
        origin=origin,
        windows=windows,
        events=events,
    )


def load_overview_svg(
    series: Mapping[str, Mapping[int, SecondCounts]],
    *,
    origin: float,
    timed: Iterable[str],
    span: tuple[float, float] | None = None,
    windows: Sequence[Window] = (),
    events: Sequence[Event] = (),
) -> bytes:
    """The ``timed`` request names on one plot: p99 and successes per
    second of each (a colour each), and all failures per second.
    Watches are left to their own plot: their streams end together and
    would flatten the scale."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    tab20 = colormaps["tab20"]  # 20 distinct colours: one per name
    names = sorted(n for n in set(timed) if n in series)
    colour = {n: to_hex(tab20(i % 20)) for i, n in enumerate(names)}
    p99 = [
        Series(n, _quantiles(series[n], 0.99), color=colour[n]) for n in names
    ]
    rates = [
        Series(n, _per_second(series[n], lambda s: s.ok, span), color=colour[n])
        for n in names
    ]
    failed = _summed(
        [
            _per_second(series[n], lambda s: sum(s.failed.values()), span)
            for n in names
        ]
    )
    if any(v for _, v in failed):
        rates.append(
            Series(
                "failed (all names)",
                [(t, v) for t, v in failed if v],
                "markers",
                "tab:red",
            )
        )
    return timeline_svg(
        "load: p99 and successes per request name",
        [
            Panel(p99, "p99 of successes (s)", log_y=True),
            Panel(rates, "successes / s"),
        ],
        origin=origin,
        windows=windows,
        events=events,
    )


def _draw_panel(
    ax: Axes,
    panel: Panel,
    origin: float,
    windows: Sequence[Window],
    events: Sequence[Event],
    labels: bool = True,
) -> None:
    """``labels``: name the events (on the top panel only: the same
    markers on every panel, their names once)."""
    for s in panel.series:
        xs = [t - origin for t, _ in s.points]
        ys = [v for _, v in s.points]
        label = s.label if s.points else f"{s.label} ({NO_SAMPLES})"
        if s.style == "markers":
            ax.plot(xs, ys, "o", ms=3, label=label, color=s.color)
        elif s.style == "steps":
            ax.step(xs, ys, where="post", label=label, color=s.color)
        else:
            line = "--" if s.style == "dashed" else "-"
            ax.plot(xs, ys, line, lw=1.2, label=label, color=s.color)
    for value, label in panel.bounds:
        ax.axhline(value, ls="--", lw=1.0, color="tab:gray", label=label)
    many = len(windows) > MAX_WINDOWS_NAMED
    for i, window in enumerate(windows):
        # Many overlapping windows (a blackout stops 12 components) would
        # stack to solid red and a legend of 12: one name, faint shades.
        label = window.label if not many else f"{len(windows)} fault windows"
        ax.axvspan(
            window.start - origin,
            window.end - origin,
            color="tab:red",
            alpha=0.12 if not many else 0.3 / len(windows),
            label=label if not many or i == 0 else None,
        )
    for event in events:
        ax.axvline(event.at - origin, color="tab:brown", lw=1.0, ls=":")
        if not labels:
            continue
        ax.annotate(
            event.label,
            (event.at - origin, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
        )
    if not any(s.points for s in panel.series):
        ax.text(
            0.5,
            0.5,
            NO_SAMPLES,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=16,
            color="tab:red",
        )
        ax.set_yticks([])  # no scale: nothing was measured
    elif panel.log_y:
        ax.set_yscale("log", nonpositive="clip")
    elif panel.share:
        ax.set_ylim(-0.08, 1.08)
    ax.set_ylabel(panel.y_label)
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7, ncols=2)


def _quantiles(
    seconds: Mapping[int, SecondCounts], q: float
) -> list[tuple[float, float]]:
    """Per second with successes: the q-quantile in seconds (nearest
    rank over the rounded-ms histogram, as the SLO verdict takes it),
    drawn at the middle of its second."""
    points = []
    for second in sorted(seconds):
        found = _nearest_rank_ms(seconds[second].times, q)
        if found is not None:
            points.append((second + 0.5, found / 1000.0))
    return points


def _nearest_rank_ms(times: Mapping[int, int], q: float) -> int | None:
    total = sum(times.values())
    if total == 0:
        return None
    seen = 0
    for ms in sorted(times):
        seen += times[ms]
        if seen >= q * total:
            return ms
    return max(times)


def _throughput(
    name: str,
    seconds: Mapping[int, SecondCounts],
    span: tuple[float, float] | None,
) -> list[Series]:
    found = [
        Series(
            "successes",
            _per_second(seconds, lambda s: s.ok, span),
            color="tab:green",
        )
    ]
    for kind, color in _FAILURE_COLORS.items():
        points = [
            (t, v)
            for t, v in _per_second(seconds, _failures_of(kind), span)
            if v
        ]  # a marker per second with failures; none elsewhere
        if points:
            found.append(Series(kind, points, "markers", color))
    return found


def _failures_of(kind: str) -> _Counter:
    def count(second: SecondCounts) -> int:
        return sum(n for st, n in second.failed.items() if _kind(st) == kind)

    return count


def _kind(status: int) -> str:
    if status == 429:
        return "429 (shed)"
    if status >= 500:
        return "5xx"
    if status == 0:
        return "no response"
    return "other failures"


def _per_second(
    seconds: Mapping[int, SecondCounts],
    count: _Counter,
    span: tuple[float, float] | None,
) -> list[tuple[float, float]]:
    """A value for every second of the span (0 where nothing was sent)."""
    if not seconds and span is None:
        return []
    if span is None:
        first, last = min(seconds), max(seconds)
    else:
        first, last = int(span[0]), int(span[1])
    return [
        (t + 0.5, float(count(seconds[t]) if t in seconds else 0))
        for t in range(first, last + 1)
    ]


def _summed(
    many: Sequence[Sequence[tuple[float, float]]],
) -> list[tuple[float, float]]:
    totals: dict[float, float] = {}
    for points in many:
        for t, v in points:
            totals[t] = totals.get(t, 0.0) + v
    return sorted(totals.items())


def _utc(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
    return moment.replace("+00:00", "Z")


class _Counter(Protocol):
    def __call__(self, second: SecondCounts, /) -> int: ...
