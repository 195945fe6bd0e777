"""Report plots: SVG that parses, names what it draws, and never shows
nothing as data."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from gauntlet.load.outcomes import Second, Tally
from gauntlet.load.slo import _percentile
from gauntlet.reporting import plots
from gauntlet.reporting.plots import Event, Panel, Series, Window

T0 = 1_796_190_000


def texts(svg: bytes) -> str:
    """Every text in the SVG (``svg.fonttype=none`` keeps it as text)."""
    root = ET.fromstring(svg)
    return "\n".join(t for t in root.itertext() if t.strip())


def tally() -> Tally:
    out = Tally()
    for i in range(10):
        for ms in (20, 25, 30, 400):
            out.success("GET single configmap", ms, at=T0 + i + 0.5)
        if i in (3, 4):
            out.failure(
                "GET single configmap", 429, lambda: "slow down", T0 + i
            )
        if i == 6:
            out.failure("GET single configmap", 503, lambda: "down", T0 + i)
    return out


def test_a_timeline_parses_and_names_its_series_windows_and_events():
    svg = plots.timeline_svg(
        "game day",
        [
            Panel([Series("write latency", [(T0, 0.1), (T0 + 5, 0.3)])], "s"),
            Panel([Series("errors", [(T0 + 2, 1.0)], "markers")], "n"),
        ],
        origin=T0,
        windows=[Window(T0 + 1, T0 + 3, "etcd leader down")],
        events=[Event(T0 + 2, "leader killed")],
    )
    found = texts(svg)
    for label in (
        "game day",
        "write latency",
        "errors",
        "etcd leader down",
        "leader killed",
        "seconds since 2026-12-02T05:40:00Z",
    ):
        assert label in found
    assert "no samples" not in found


def test_the_same_data_gives_the_same_bytes():
    def draw():
        return plots.request_class_svg(
            "GET single configmap",
            tally().series["GET single configmap"],
            origin=T0,
            bound_s=1.0,
        )

    assert draw() == draw()


def test_a_timeline_without_a_sample_says_so():
    svg = plots.timeline_svg(
        "outage", [Panel([Series("requests", [])], "req/s")], origin=T0
    )
    found = texts(svg)
    assert "outage (no samples)" in found
    assert "requests (no samples)" in found


def test_one_empty_series_is_named_beside_the_others():
    svg = plots.timeline_svg(
        "mixed",
        [Panel([Series("a", [(T0, 1.0)]), Series("b", [])], "v")],
        origin=T0,
    )
    found = texts(svg)
    assert "b (no samples)" in found
    assert "mixed (no samples)" not in found


def test_a_timeline_needs_a_panel():
    with pytest.raises(ValueError, match="at least one panel"):
        plots.timeline_svg("nothing", [], origin=T0)


def test_a_request_class_plot_shows_latency_throughput_and_the_slo():
    svg = plots.request_class_svg(
        "GET single configmap",
        tally().series["GET single configmap"],
        origin=T0,
        bound_s=1.0,
        span=(T0, T0 + 12),
    )
    found = texts(svg)
    for label in (
        "GET single configmap: latency and throughput",
        "p50",
        "p99",
        "SLO p99 <= 1 s",
        "successes",
        "429 (shed)",
        "5xx",
        "requests / s",
    ):
        assert label in found
    assert "no response" not in found


def test_a_class_with_no_failures_draws_no_failure_series():
    ok = Tally()
    ok.success("LIST cluster pods", 900, at=T0)
    svg = plots.request_class_svg(
        "LIST cluster pods",
        ok.series["LIST cluster pods"],
        origin=T0,
        bound_s=30.0,
    )
    found = texts(svg)
    assert "429 (shed)" not in found
    assert "5xx" not in found
    assert "SLO p99 <= 30 s" in found


def test_a_request_class_never_sent_is_a_no_samples_plot():
    svg = plots.request_class_svg(
        "PATCH single configmap", {}, origin=T0, bound_s=1.0
    )
    assert "(no samples)" in texts(svg)


def test_a_watch_plot_counts_requests_and_events_only():
    watch = Tally()
    watch.success("WATCH namespace configmaps", 60_000, at=T0)
    watch.event("WATCH namespace configmaps", 7, at=T0 + 1)
    svg = plots.request_class_svg(
        "WATCH namespace configmaps",
        watch.series["WATCH namespace configmaps"],
        origin=T0,
        bound_s=None,
        timed=False,
    )
    found = texts(svg)
    assert "WATCH namespace configmaps: throughput" in found
    assert "events received" in found
    assert "p99" not in found


def test_the_overview_names_every_timed_request_name():
    runs = tally()
    runs.success("LIST cluster pods", 900, at=T0 + 2)
    runs.success("WATCH namespace configmaps", 60_000, at=T0 + 9)
    svg = plots.load_overview_svg(
        runs.series,
        origin=T0,
        timed=["GET single configmap", "LIST cluster pods"],
    )
    found = texts(svg)
    assert "GET single configmap" in found
    assert "LIST cluster pods" in found
    assert "failed (all names)" in found
    assert "WATCH" not in found


def test_per_second_p99_is_the_verdicts_percentile():
    """The plot and the SLO verdict take a percentile the same way."""
    second = Second(times={10: 50, 20: 45, 900: 5})
    for q in (0.5, 0.95, 0.99):
        points = plots._quantiles({T0: second}, q)
        assert points == [(T0 + 0.5, _percentile(second.times, q))]


def test_seconds_without_requests_count_zero_within_the_span():
    runs = Tally()
    runs.success("GET single configmap", 10, at=T0)
    runs.success("GET single configmap", 10, at=T0 + 3)
    points = plots._per_second(
        runs.series["GET single configmap"], lambda s: s.ok, (T0, T0 + 4)
    )
    assert points == [(T0 + i + 0.5, v) for i, v in enumerate([1, 0, 0, 1, 0])]


def test_a_png_is_a_png():
    png = plots.timeline_png(
        "t", [Panel([Series("a", [(T0, 1.0)])], "v")], origin=T0
    )
    assert png.startswith(b"\x89PNG")


def test_importing_plots_leaves_matplotlib_unloaded_and_no_pyplot_after():
    """The CLI starts without matplotlib; drawing never picks a
    process-wide backend (no pyplot)."""
    code = (
        "import sys\n"
        "from gauntlet.reporting import plots\n"
        "assert 'matplotlib' not in sys.modules\n"
        "plots.timeline_svg('t', [plots.Panel([plots.Series('a', "
        "[(0, 1.0)])], 'v')], origin=0)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
