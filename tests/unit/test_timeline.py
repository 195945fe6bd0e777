"""A test's timeline: fault windows, events and series on one time axis,
drawn from the records the verdict used."""

import time

from gauntlet.checks.chaos.timelines import (
    WRITES_PANEL,
    ledger_windows,
    service_points,
    write_history,
)
from gauntlet.faults.ledger import LedgerEntry
from gauntlet.faults.rollback import Rollback
from gauntlet.observe.history import Operation
from gauntlet.reporting.measurements import Measurement
from gauntlet.reporting.timeline import Timeline, epoch_of_iso


def entry(seq, description):
    return LedgerEntry(seq, description, Rollback("x", {}), "")


def test_a_fault_is_shaded_from_its_record_to_its_end():
    timeline = Timeline("RES-01")
    told = ledger_windows(timeline)
    told("open", entry(1, "stop kubelet on w1"))
    told("injected", entry(1, "stop kubelet on w1"))
    told("done", entry(1, "stop kubelet on w1"))
    data = timeline.to_dict()
    assert [w["label"] for w in data["windows"]] == ["stop kubelet on w1"]
    window = data["windows"][0]
    assert window["start"] <= window["end"]
    assert data["events"][0]["label"] == "injected: stop kubelet on w1"


def test_a_fault_still_open_is_drawn_up_to_now_and_says_so():
    timeline = Timeline("t")
    timeline.open_window("1", "partition cp1")
    assert timeline.to_dict()["windows"][0]["label"] == (
        "partition cp1 (still open)"
    )


def test_a_fault_opened_before_the_timeline_is_not_its_window():
    timeline = Timeline("t")
    timeline.close_window("7")
    assert timeline.empty()


def test_a_spanned_measurement_marks_the_moment_it_measured():
    timeline = Timeline("t")
    stopped = 1_700_000_000.0
    timeline.measured(
        Measurement.spanning(
            "seconds to NotReady", 41.0, "s", (stopped, stopped + 41.0)
        )
    )
    timeline.measured(Measurement.instant("failed writes", 0, ""))  # a count
    [event] = timeline.to_dict()["events"]
    assert event == {"at": stopped + 41.0, "label": "seconds to NotReady: 41 s"}


def test_measurement_span_keeps_its_start_and_end():
    m = Measurement.spanning("x", 2.5, "s", (1_700_000_000.0, 1_700_000_002.5))
    assert epoch_of_iso(m.start) == 1_700_000_000.0
    assert epoch_of_iso(m.end) == 1_700_000_002.5
    assert m.duration_s == 2.5


def op(start, end, result):
    return Operation(
        "c1", "https://a", "write", "k", "v", start, end, "", "", result
    )


def test_writes_are_markers_by_outcome_at_the_time_they_were_sent():
    timeline = Timeline("t")
    now = time.monotonic()
    write_history(
        timeline,
        [op(now, now + 0.1, "ok"), op(now + 1, now + 6, "timeout")],
    )
    series = {s["label"]: s for s in timeline.to_dict()["series"]}
    assert set(series) == {"acknowledged", "no answer / indeterminate"}
    assert series["acknowledged"]["panel"] == WRITES_PANEL
    [(at, took)] = series["no answer / indeterminate"]["points"]
    assert abs(at - timeline.epoch(now + 1)) < 1e-6 and took == 5


def test_the_service_log_is_the_share_answered_per_second():
    assert service_points([(10, True), (10, False), (11, True)]) == [
        (10.5, 0.5),
        (11.5, 1.0),
    ]


def test_the_plot_names_its_events_windows_and_series():
    timeline = Timeline("RES-01: kubelet stop")
    t0 = time.time()
    timeline.open_window("1", "stop kubelet on w1", t0)
    timeline.close_window("1", t0 + 30)
    timeline.event("w1 NotReady", t0 + 12)
    for i in range(5):
        timeline.sample("nodes Ready", "w1", float(i < 2), t0 + i, "steps")
    svg = timeline.svg().decode()
    for text in ("RES-01: kubelet stop", "w1 NotReady", "stop kubelet on w1"):
        assert text in svg


def test_a_timeline_without_samples_says_so_rather_than_drawing_nothing():
    svg = Timeline("RES-05").svg().decode()
    assert "no samples" in svg


def test_many_fault_windows_are_named_once_as_a_count():
    timeline = Timeline("RES-06")
    t0 = time.time()
    for i in range(12):
        timeline.open_window(str(i), f"stop component {i}", t0)
        timeline.close_window(str(i), t0 + 30)
    timeline.sample("nodes Ready", "w1", 1.0, t0)
    svg = timeline.svg().decode()
    assert "12 fault windows" in svg
    assert "stop component 5" not in svg
