"""Series over the last runs, and when the newest value is a regression."""

import pytest
from history_fixtures import run_id, summary

from gauntlet.reporting.history import ValueRecord, record_of
from gauntlet.reporting.trend import build_trend, direction_of, floor_of
from gauntlet.reporting.trend_render import render_html, render_text


def runs_of(*values, name="deleted pod replaced", unit="s", bound=30.0):
    """One run per value of one measurement of ARCH-08."""
    return [
        record_of(summary(n, {"ARCH-08": [(name, v, unit, bound)]}), {})
        for n, v in enumerate(values, start=1)
    ]


def judged(*values, **kwargs):
    margin = kwargs.pop("margin", 0.20)
    (series,) = build_trend(
        runs_of(*values, **kwargs), "lab", margin=margin
    ).series
    return series


def test_a_series_keeps_every_value_of_the_window_with_its_bound():
    series = judged(1.0, 1.2, 1.1)
    assert [p.value for p in series.points] == [1.0, 1.2, 1.1]
    assert [p.run_id for p in series.points] == [run_id(n) for n in (1, 2, 3)]
    assert series.bound == 30.0 and series.unit == "s"
    assert series.label == "ARCH-08 deleted pod replaced"


def test_only_the_last_n_runs_are_shown():
    trend = build_trend(runs_of(1, 2, 3, 4, 5), "lab", last=3)
    assert [r.run_id for r in trend.runs] == [run_id(n) for n in (3, 4, 5)]
    assert [p.value for p in trend.series[0].points] == [3, 4, 5]


def test_worse_than_the_median_by_more_than_the_margin_is_a_regression():
    series = judged(10.0, 12.0, 11.0, 14.0)  # median 11, +27 %, bound 30
    assert series.judgement.status == "regression"
    assert series.judgement.median == 11.0
    assert series.judgement.previous == 3
    assert "14 s against median 11 s of 3 previous runs" in (
        series.judgement.detail
    )


def test_within_the_margin_is_ok():
    assert judged(10.0, 12.0, 11.0, 13.0).judgement.status == "ok"  # +18 %
    assert (
        judged(10.0, 12.0, 11.0, 13.0, margin=0.1, bound=None).judgement.status
        == "regression"
    )


def test_better_is_never_a_regression():
    series = judged(10.0, 12.0, 11.0, 2.0)
    assert series.judgement.status == "ok"
    assert "better" in series.judgement.detail


def test_noise_on_tiny_values_is_below_the_floor():
    # +110 % but 0.11 s: under the floor of max(0.5 s, 10 % of 30 s)
    assert judged(0.1, 0.1, 0.21).judgement.status == "ok"
    assert judged(0.1, 0.1, 0.21, bound=None).judgement.status == "ok"
    assert judged(0.1, 0.1, 0.7, bound=None).judgement.status == "regression"


def test_the_floor_grows_with_the_bound():
    assert floor_of("s", None) == 0.5
    assert floor_of("s", 30.0) == 3.0
    assert floor_of("ms", 10.0) == 5.0
    assert floor_of("requests", 0.0) == 1.0


def test_a_count_bounded_by_zero_is_flagged_when_it_rises_by_one():
    status = judged(0, 0, 0, 1, name="failed calls", unit="", bound=0.0)
    assert status.judgement.status == "regression"


@pytest.mark.parametrize(
    "values", [(5.0, 9.0), (9.0,), (None, None, 9.0), (5.0, None, 9.0)]
)
def test_fewer_than_two_previous_values_is_not_enough_history(values):
    judgement = judged(*values).judgement
    assert judgement.status == "not enough history"
    assert "need 2" in judgement.detail


def test_a_failed_newest_measurement_has_no_value_to_judge():
    assert judged(1.0, 1.0, None).judgement.status == "no value"


def test_a_series_absent_from_the_newest_run_is_not_judged():
    runs = runs_of(1.0, 1.0, 9.0)
    runs.append(record_of(summary(9, {"ARCH-10": [("x", 1, "s", 5)]}), {}))
    trend = build_trend(runs, "lab")
    by_name = {s.name: s for s in trend.series}
    assert by_name["deleted pod replaced"].judgement.status == (
        "not in newest run"
    )
    assert trend.regressions == ()


def run_with(n, values, verdict="pass"):
    """Run ``n`` with ARCH-08 ``values`` and ``verdict``."""
    run = summary(n, {"ARCH-08": values}, verdicts={"ARCH-08": verdict})
    return record_of(run, {})


def test_a_step_that_missed_its_bound_in_a_failed_run_is_a_regression():
    # ARCH-08 records a step only once it converges: a step past its 30 s
    # bound fails the guarantee and leaves no value at all.
    def steps(replaced, scaled=None):
        values = [("deleted pod replaced", replaced, "s", 30.0)]
        if scaled is not None:
            values.append(("scale 2 -> 4", scaled, "s", 30.0))
        return values

    runs = [
        run_with(1, steps(1.0, 2.0)),
        run_with(2, steps(1.2, 2.2)),
        run_with(3, steps(1.1), verdict="fail"),
    ]
    trend = build_trend(runs, "lab")
    by_name = {s.name: s for s in trend.series}
    scale = by_name["scale 2 -> 4"].judgement
    assert scale.status == "regression"
    assert scale.detail == (
        "not measured in the newest run, which failed ARCH-08; "
        "median 2.1 s of 2 previous runs"
    )
    assert scale.median == pytest.approx(2.1) and scale.previous == 2
    assert by_name["deleted pod replaced"].judgement.status == "ok"
    assert [s.name for s in trend.regressions] == ["scale 2 -> 4"]


def test_a_failed_measurement_in_a_failed_run_is_a_regression():
    failed = [("deleted pod replaced", None, "s", 30.0)]
    runs = [*runs_of(1.0, 1.0), run_with(3, failed, verdict="fail")]
    judgement = build_trend(runs, "lab").series[0].judgement
    assert judgement.status == "regression"
    assert judgement.detail.startswith(
        "measuring failed in the newest run, which failed ARCH-08; median 1 s"
    )


@pytest.mark.parametrize("verdict", ["pass", "skip", "error"])
def test_a_missing_value_is_a_regression_only_when_the_guarantee_failed(
    verdict,
):
    runs = runs_of(1.0, 1.0)
    runs.append(run_with(3, [], verdict=verdict))
    judgement = build_trend(runs, "lab").series[0].judgement
    assert judgement.status == "not in newest run"


@pytest.mark.parametrize(
    ("earlier", "name", "unit", "bound", "status"),
    [
        ((1.0,), "deleted pod replaced", "s", 30.0, "not in newest run"),
        ((3, 3), "control-plane nodes", "nodes", None, "not in newest run"),
    ],
)
def test_a_missing_value_needs_history_and_a_direction(
    earlier, name, unit, bound, status
):
    runs = runs_of(*earlier, name=name, unit=unit, bound=bound)
    runs.append(run_with(len(runs) + 1, [], verdict="fail"))
    judgement = build_trend(runs, "lab").series[0].judgement
    assert judgement.status == status


@pytest.mark.parametrize(
    ("name", "unit", "bound", "direction"),
    [
        ("anything", "", 0.0, "higher-is-worse"),
        ("pod startup p50", "s", None, "higher-is-worse"),
        ("API latency p99", "ms", None, "higher-is-worse"),
        ("Service success during the drain", "%", None, "lower-is-worse"),
        ("fewest available replicas", "", None, "lower-is-worse"),
        ("requests per second", "req/s", None, "lower-is-worse"),
        ("etcd failure tolerance", "members", None, "lower-is-worse"),
        ("failed writes around the election", "", None, "higher-is-worse"),
        ("control-plane nodes", "nodes", None, "unknown"),
    ],
)
def test_which_way_is_worse(name, unit, bound, direction):
    assert direction_of(ValueRecord(name, 1.0, unit, bound))[0] == direction


def test_lower_is_worse_flags_a_drop():
    series = judged(
        100, 100, 100, 70, name="Service success", unit="%", bound=None
    )
    assert series.judgement.status == "regression"


def test_no_direction_is_shown_but_never_judged():
    series = judged(
        3, 3, 3, 1, name="control-plane nodes", unit="nodes", bound=None
    )
    assert series.judgement.status == "direction unknown"


def test_a_profile_keeps_a_gates_series_apart_from_a_game_days():
    gate = [
        record_of(summary(n, {"ARCH-08": [("x", 1.0, "s", 30)]}), {})
        for n in (1, 2, 3)
    ]
    gameday = record_of(
        summary(4, {"RES-01": [("y", 50.0, "s", 65)]}, profile="gameday"), {}
    )
    trend = build_trend([*gate, gameday], "lab", profile="gate")
    assert [r.run_id for r in trend.runs] == [run_id(n) for n in (1, 2, 3)]
    assert [s.guarantee for s in trend.series] == ["ARCH-08"]
    assert trend.series[0].judgement.status == "ok"


def test_a_name_measured_twice_keeps_both_series():
    runs = [
        record_of(summary(n, {"ARCH-08": [("t", 1.0), ("t", 2.0)]}), {})
        for n in (1, 2, 3)
    ]
    names = [s.name for s in build_trend(runs, "lab").series]
    assert names == ["t", "t #2"]


def test_the_table_shows_the_runs_the_bound_and_the_judgement():
    trend = build_trend(runs_of(10.0, 12.0, 11.0, 14.0), "lab")
    text = render_text(trend)
    assert "trend of lab: last 4 run(s)" in text
    assert f"#1  {run_id(1)}" in text
    row = next(line for line in text.splitlines() if "deleted pod" in line)
    assert row.split()[-5:] == ["10", "12", "11", "14", "REGRESSION"]
    assert " 30 " in row
    assert text.rstrip().endswith("1 measurement(s): 1 regression")


def test_the_page_marks_regressions_and_escapes_names():
    trend = build_trend(
        runs_of(10.0, 12.0, 11.0, 14.0, name="<script>x</script>"), "lab"
    )
    page = render_html(trend)
    assert '<tr class="regression">' in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_json_form_names_the_regressions():
    data = build_trend(runs_of(10.0, 12.0, 11.0, 14.0), "lab").to_dict()
    assert data["regressions"] == ["ARCH-08 deleted pod replaced"]
    (series,) = data["series"]
    assert series["status"] == "regression" and series["bound"] == 30.0
    assert [p["value"] for p in series["points"]] == [10, 12, 11, 14]
