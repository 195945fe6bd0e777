"""UPG-06's pure parts: outage windows from the Service client's log, and
the steps file an upgrade command writes."""

from gauntlet.checks.upg._rehearsal_workload import Window, failure_windows
from gauntlet.upgrade_steps import Step, append_step, read_steps


def test_consecutive_failed_requests_make_one_outage_window():
    log = [(10, True), (11, False), (11, False), (12, False), (13, True)]
    assert failure_windows(log) == [Window(11, 12, 3)]
    assert failure_windows(log)[0].seconds == 2


def test_a_log_that_ends_failing_still_reports_its_last_window():
    log = [(1, False), (2, True), (5, False), (6, False)]
    assert failure_windows(log) == [Window(1, 1, 1), Window(5, 6, 2)]


def test_a_log_without_failures_has_no_window():
    assert failure_windows([(1, True), (2, True)]) == []


def test_steps_written_are_read_back_with_their_durations(tmp_path):
    path = tmp_path / "steps.jsonl"
    append_step(path, Step("kube-apiserver", "cp1", 100.0, 119.5))
    append_step(path, Step("drain", "w1", 120.0, 126.0))
    steps = read_steps(path)
    assert [(s.step, s.node, s.seconds) for s in steps] == [
        ("kube-apiserver", "cp1", 19.5),
        ("drain", "w1", 6.0),
    ]


def test_a_command_that_wrote_no_steps_has_none(tmp_path):
    assert read_steps(tmp_path / "absent.jsonl") == []


def test_lines_that_are_not_steps_are_passed_over(tmp_path):
    path = tmp_path / "steps.jsonl"
    path.write_text('starting\n{"step": "kubelet", "start": 1, "end": 3}\n')
    assert [s.seconds for s in read_steps(path)] == [2.0]
