"""Verdicts, summary.json and the end-of-run table."""

import json

import pytest

from gauntlet.reporting.measurements import Measurement, Stopwatch
from gauntlet.reporting.summary import (
    CaseOutcome,
    RunSummary,
    build_summary,
    judge,
    render_table,
    write_summary,
)


def case(outcome, message="", gid="ARCH-08", name="test_a", measurements=()):
    return CaseOutcome(
        f"suites/test_x.py::{name}", gid, outcome, message, measurements
    )


def summary_of(*outcomes, order=()):
    return build_summary(
        outcomes,
        run_id="run-1",
        context="kind-lab",
        profile="gate",
        started="2025-01-01T00:00:00.000Z",
        ended="2025-01-01T00:01:00.000Z",
        order=order,
    )


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        (["passed", "passed"], "pass"),
        (["passed", "failed", "error"], "fail"),
        (["passed", "error", "skipped"], "error"),
        (["skipped", "skipped"], "skip"),
        (["passed", "skipped"], "pass"),
    ],
)
def test_verdict_folds_test_outcomes(outcomes, verdict):
    cases = [case(o, name=f"test_{i}") for i, o in enumerate(outcomes)]
    assert judge(cases)[0] == verdict


def test_all_skipped_keeps_the_skip_reasons():
    verdict, message = judge(
        [case("skipped", "etcd is hidden"), case("skipped", "etcd is hidden")]
    )
    assert (verdict, message) == ("skip", "etcd is hidden")


def test_partial_skip_is_a_pass_that_says_what_was_skipped():
    verdict, message = judge(
        [case("passed"), case("skipped", "single node", name="test_b")]
    )
    assert verdict == "pass"
    assert message == "1 skipped: single node"


def test_failure_message_names_the_test_when_there_are_several():
    verdict, message = judge(
        [case("passed"), case("failed", "pod not replaced\nmore", name="t2")]
    )
    assert verdict == "fail"
    assert message == "t2: pod not replaced more"


def test_results_follow_catalogue_order_and_collect_measurements():
    m1 = Measurement.instant("replace_s", 3.0, "s", bound=30.0)
    m2 = Measurement.instant("replicas", 3, "pods")
    summary = summary_of(
        case("passed", gid="ARCH-08", measurements=(m1,)),
        case("failed", "boom", gid="ARCH-04", name="test_b"),
        case("passed", gid="ARCH-08", name="test_c", measurements=(m2,)),
        order=("ARCH-04", "ARCH-08"),
    )
    assert [r.guarantee for r in summary.results] == ["ARCH-04", "ARCH-08"]
    arch08 = summary.results[1]
    assert arch08.tests == (
        "suites/test_x.py::test_a",
        "suites/test_x.py::test_c",
    )
    assert arch08.measurements == (m1, m2)
    assert summary.totals == {"pass": 1, "fail": 1, "skip": 0, "error": 0}


def test_summary_json_round_trips(tmp_path):
    measured = Measurement.instant("replace_s", 3.5, "s", bound=30)
    summary = summary_of(case("passed", measurements=(measured,)))
    path = write_summary(summary, tmp_path / "out" / "summary.json")
    data = json.loads(path.read_text())
    assert data["run_id"] == "run-1"
    assert data["context"] == "kind-lab"
    assert data["profile"] == "gate"
    assert data["guarantees"][0]["verdict"] == "pass"
    assert data["guarantees"][0]["measurements"][0]["value"] == 3.5
    assert data["guarantees"][0]["measurements"][0]["bound"] == 30.0
    assert RunSummary.from_dict(data) == summary
    assert list(path.parent.iterdir()) == [path]


def test_table_has_fixed_width_columns():
    long = "x" * 200
    summary = summary_of(
        case("failed", long, gid="ARCH-04"),
        case(
            "passed",
            measurements=tuple(
                Measurement.instant(f"m{i}", i, "s", bound=2) for i in range(5)
            ),
        ),
        order=("ARCH-04", "ARCH-08"),
    )
    lines = render_table(summary).splitlines()
    header, rows = lines[1], lines[3:-1]
    assert header.index("VERDICT") == 11
    assert header.index("PARTS") == 20
    assert header.index("MEASUREMENTS") == 26
    assert header.index("MESSAGE") == 75
    assert rows[0].startswith("ARCH-04    FAIL           ")
    assert rows[0].endswith("...")
    assert len(rows[0]) == 135
    assert rows[1].startswith("ARCH-08    PASS           m3=3 s (OVER 2)")
    assert rows[2].strip() == "m4=4 s (OVER 2)"
    assert rows[3].strip() == "m0=0 s (limit 2)"
    assert rows[4].strip() == "+2 more in summary.json"
    assert lines[-1] == "2 guarantees: 1 pass, 1 fail, 0 skip, 0 error"


def test_measurement_round_trips_and_judges_its_bound():
    measured = Measurement.instant("p99", 6.0, "s", bound=5, guarantee="X-1")
    assert Measurement.from_dict(measured.to_dict()) == measured
    assert measured.exceeds_bound
    assert not Measurement.instant("p99", 5.0, "s", bound=5).exceeds_bound
    assert not Measurement.instant("p99", 9.0, "s").exceeds_bound


def test_stopwatch_records_a_failed_block_and_reraises():
    watch = Stopwatch("drain", bound=1.0, guarantee="RES-09")
    with pytest.raises(RuntimeError), watch:
        raise RuntimeError("api down")
    measured = watch.measurement
    assert measured is not None
    assert measured.status == "failed"
    assert measured.value is None
    assert measured.error == "RuntimeError: api down"
    assert measured.exceeds_bound
    assert measured.duration_s >= 0


def test_stopwatch_times_a_block():
    with Stopwatch("noop") as watch:
        pass
    measured = watch.measurement
    assert measured is not None and measured.status == "ok"
    assert measured.value == measured.duration_s
    assert measured.start.endswith("Z") and measured.unit == "s"
