"""The fault ledger: record before inject, LIFO rollback, recovery."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gauntlet.errors import UsageError
from gauntlet.faults import rollback as rollback_mod
from gauntlet.faults.journal import forget
from gauntlet.faults.ledger import (
    FaultLedger,
    install_signal_handlers,
    read_ledger,
    recover,
)
from gauntlet.faults.rollback import Rollback, rollback_kind


@pytest.fixture
def calls():
    """A fake rollback kind ``test_undo`` that logs its params."""
    log = []

    @rollback_kind("test_undo")
    def undo(params):
        if params.get("fail"):
            raise RuntimeError(f"cannot undo {params['name']}")
        log.append(params["name"])

    yield log
    rollback_mod._REGISTRY.pop("test_undo", None)


def undo(name, **extra):
    return Rollback("test_undo", {"name": name, **extra})


def events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fault_is_on_disk_with_its_rollback_before_the_action_runs(
    tmp_path, calls
):
    ledger = FaultLedger("run-1", tmp_path)
    seen = []

    def action():
        seen.extend(events(ledger.path))
        return "injected"

    assert ledger.inject("stop kubelet", undo("kubelet"), action) == "injected"
    opened = [e for e in seen if e["event"] == "open"]
    assert opened == [
        {
            "event": "open",
            "seq": 1,
            "description": "stop kubelet",
            "rollback": {"kind": "test_undo", "params": {"name": "kubelet"}},
            "at": opened[0]["at"],
        }
    ]
    assert [e.description for e in ledger.open_entries()] == ["stop kubelet"]


def test_unknown_rollback_kind_is_refused_before_injecting(tmp_path):
    ledger = FaultLedger("run-1", tmp_path)
    ran = []
    with pytest.raises(UsageError, match="unknown rollback kind 'nope'"):
        ledger.inject("x", Rollback("nope"), lambda: ran.append(1))
    assert ran == []
    assert not [e for e in events(ledger.path) if e["event"] == "open"]


def test_rollback_all_undoes_newest_first_and_closes_entries(tmp_path, calls):
    ledger = FaultLedger("run-1", tmp_path)
    for name in ("a", "b", "c"):
        ledger.inject(f"fault {name}", undo(name), lambda: None)
    assert ledger.rollback_all() == []
    assert calls == ["c", "b", "a"]
    assert ledger.open_entries() == []
    assert read_ledger(ledger.path).open_entries == ()
    assert ledger.rollback_all() == []
    assert calls == ["c", "b", "a"]


def test_rollback_keeps_going_after_a_failing_rollback(tmp_path, calls):
    ledger = FaultLedger("run-1", tmp_path)
    ledger.inject("fault a", undo("a"), lambda: None)
    ledger.inject("fault b", undo("b", fail=True), lambda: None)
    ledger.inject("fault c", undo("c"), lambda: None)
    failures = ledger.rollback_all()
    assert calls == ["c", "a"]
    assert [f.entry.description for f in failures] == ["fault b"]
    assert "cannot undo b" in failures[0].error
    still_open = read_ledger(ledger.path).open_entries
    assert [e.description for e in still_open] == ["fault b"]


def test_a_fault_whose_action_raised_is_still_rolled_back(tmp_path, calls):
    ledger = FaultLedger("run-1", tmp_path)

    def half_applied():
        raise OSError("partition half applied")

    with pytest.raises(OSError):
        ledger.inject("partition w1", undo("w1"), half_applied)
    ledger.rollback_all()
    assert calls == ["w1"]


def test_mirror_sees_open_faults_then_none(tmp_path, calls):
    seen = []
    ledger = FaultLedger(
        "run-1", tmp_path, mirror=lambda es: seen.append([e.seq for e in es])
    )
    ledger.inject("fault a", undo("a"), lambda: None)
    ledger.rollback_all()
    assert seen == [[1], []]


def dead_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def rewrite_owner(path, pid):
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header.update(pid=pid, pid_start=None)
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")


def test_recover_replays_open_rollbacks_of_a_dead_run(tmp_path, calls):
    ledger = FaultLedger("crashed", tmp_path)
    ledger.inject("fault a", undo("a"), lambda: None)
    ledger.inject("fault b", undo("b"), lambda: None)
    rewrite_owner(ledger.path, dead_pid())
    said = []
    lines = recover(tmp_path, report=said.append)
    assert calls == ["b", "a"]
    assert (
        lines
        == said
        == [
            "rolled back: run crashed: fault b",
            "rolled back: run crashed: fault a",
        ]
    )
    assert recover(tmp_path, report=said.append) == []
    assert calls == ["b", "a"]


def test_recover_skips_a_run_that_is_still_alive(tmp_path, calls):
    ledger = FaultLedger("alive", tmp_path)
    ledger.inject("fault a", undo("a"), lambda: None)
    lines = recover(tmp_path, report=lambda _line: None)
    assert calls == []
    assert lines == [f"run alive: still running (pid {os.getpid()}), skipped"]


def test_recover_reports_a_failing_rollback_and_keeps_it_open(tmp_path, calls):
    ledger = FaultLedger("crashed", tmp_path)
    ledger.inject("fault a", undo("a"), lambda: None)
    ledger.inject("fault b", undo("b", fail=True), lambda: None)
    rewrite_owner(ledger.path, dead_pid())
    lines = recover(tmp_path, report=lambda _line: None)
    assert calls == ["a"]
    assert lines[0].startswith("failed: run crashed: fault b: RuntimeError")
    assert [e.description for e in read_ledger(ledger.path).open_entries] == [
        "fault b"
    ]


def test_recover_of_named_runs_leaves_the_other_dead_runs_alone(
    tmp_path, calls
):
    for run in ("mine", "someone-elses"):
        ledger = FaultLedger(run, tmp_path)
        ledger.inject(f"fault of {run}", undo(run), lambda: None)
        rewrite_owner(ledger.path, dead_pid())
    lines = recover(tmp_path, report=lambda _line: None, runs=["mine"])
    assert lines == ["rolled back: run mine: fault of mine"]
    assert calls == ["mine"]


def test_recover_of_a_run_without_a_ledger_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no ledger of run gone"):
        recover(tmp_path, report=lambda _line: None, runs=["gone"])


def test_a_forgotten_run_is_closed_without_undoing_and_says_why(
    tmp_path, calls
):
    # Its cluster was rebuilt: the undo fails for ever, and recover with
    # it; forgetting closes the entries, the ledger keeps them.
    ledger = FaultLedger("lost", tmp_path)
    ledger.inject("fault a", undo("a", fail=True), lambda: None)
    rewrite_owner(ledger.path, dead_pid())
    closed = forget("lost", "cluster rebuilt", tmp_path)
    assert [e.description for e in closed] == ["fault a"]
    assert calls == []
    assert recover(tmp_path, report=lambda _line: None) == []
    assert events(ledger.path)[-1]["reason"] == "cluster rebuilt"


def test_a_running_run_cannot_be_forgotten(tmp_path, calls):
    ledger = FaultLedger("alive", tmp_path)
    ledger.inject("fault a", undo("a"), lambda: None)
    with pytest.raises(ValueError, match="still running"):
        forget("alive", "by mistake", tmp_path)
    assert read_ledger(ledger.path).open_entries != ()


def test_sigint_rolls_back_then_interrupts(tmp_path, calls):
    ledger = FaultLedger("run-1", tmp_path)
    restore = install_signal_handlers(ledger)
    try:
        ledger.inject("fault a", undo("a"), lambda: None)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        restore()
    assert calls == ["a"]


def test_sigterm_rolls_back_then_terminates(tmp_path, calls):
    ledger = FaultLedger("run-1", tmp_path)

    class Terminated(Exception):
        pass

    def terminate():
        raise Terminated

    restore = install_signal_handlers(ledger, on_terminate=terminate)
    try:
        ledger.inject("fault a", undo("a"), lambda: None)
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        restore()
    assert calls == ["a"]


def test_unwritable_ledger_directory_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="set KUBE_GAUNTLET_STATE"):
        FaultLedger("run-1", blocker / "ledger")


# -- objects the run creates ---------------------------------------------------


def test_an_object_is_on_disk_with_its_removal_before_it_is_created(
    tmp_path, calls
):
    ledger = FaultLedger("run-1", tmp_path)
    entry = ledger.record_object("namespace kg-1", undo("kg-1"))
    opened = [e for e in events(ledger.path) if e["event"] == "open"]
    assert [(e["description"], e["what"]) for e in opened] == [
        ("namespace kg-1", "object")
    ]
    assert read_ledger(ledger.path).open_entries == (entry,)
    assert entry.what == "object"
    assert ledger.open_entries() == []  # not a fault: nothing to mirror


def test_rollback_all_undoes_faults_and_keeps_objects_until_the_run_ends(
    tmp_path, calls
):
    ledger = FaultLedger("run-1", tmp_path)
    ledger.record_object("namespace kg-1", undo("kg-1"))
    ledger.inject("stop kubelet", undo("kubelet"), lambda: None)
    assert ledger.rollback_all() == []
    assert calls == ["kubelet"]
    assert [e.description for e in ledger.open_objects()] == ["namespace kg-1"]
    assert ledger.rollback_all(objects=True) == []
    assert calls == ["kubelet", "kg-1"]
    assert read_ledger(ledger.path).open_entries == ()


def test_a_fault_its_node_ended_is_closed_and_never_undone_again(
    tmp_path, calls
):
    holder = {}
    mirror = ClusterMirrorFake(lambda: holder["ledger"].path)
    ledger = holder["ledger"] = FaultLedger("crashed", tmp_path, mirror=mirror)
    entry = ledger.inject_entry(
        "stop kubelet on w1 for 60s", undo("kubelet"), lambda: None
    )
    assert [e.seq for e in ledger.open_entries()] == [entry.seq]
    ledger.ended(entry, "restored by the node (plan)")
    assert ledger.open_entries() == []
    assert mirror.seen[-1][0] == []  # the mirror shows it gone too
    done = [e for e in events(ledger.path) if e["event"] == "done"]
    assert done[-1]["seq"] == entry.seq and done[-1]["by"] == "node"
    assert ledger.rollback_all() == []
    rewrite_owner(ledger.path, dead_pid())
    recover(tmp_path, report=lambda _line: None)
    assert "kubelet" not in calls


def test_an_owner_removes_its_object_its_own_way_and_closes_the_entry(
    tmp_path, calls
):
    ledger = FaultLedger("run-1", tmp_path)
    entry = ledger.record_object("namespace kg-1", undo("kg-1"))
    ledger.remove(entry, how=lambda: calls.append("own client"))
    assert calls == ["own client"]
    assert read_ledger(ledger.path).open_entries == ()


def test_an_object_already_removed_is_not_removed_again(tmp_path, calls):
    # A session removes its objects while the lab is up; a fixture's
    # teardown at the session's end must not reach for a cluster that a
    # later test replaced.
    ledger = FaultLedger("run-1", tmp_path)
    entry = ledger.record_object("namespace kg-1", undo("kg-1"))
    assert ledger.rollback_all(objects=True) == []
    ledger.remove(entry, how=lambda: calls.append("reached the cluster"))
    assert calls == ["kg-1"]


def test_a_failed_removal_raises_and_stays_open_for_recover(tmp_path, calls):
    ledger = FaultLedger("run-1", tmp_path)
    entry = ledger.record_object("namespace kg-1", undo("kg-1", fail=True))
    with pytest.raises(RuntimeError, match="cannot undo kg-1"):
        ledger.remove(entry)
    assert read_ledger(ledger.path).open_entries == (entry,)


def test_a_released_object_is_left_alone_by_recover(tmp_path, calls):
    ledger = FaultLedger("crashed", tmp_path)
    entry = ledger.record_object("namespace kg-1", undo("kg-1"))
    ledger.release(entry, "kept for inspection")
    rewrite_owner(ledger.path, dead_pid())
    assert recover(tmp_path, report=lambda _line: None) == []
    assert calls == []


def test_recover_removes_a_killed_runs_objects_after_undoing_its_faults(
    tmp_path, calls
):
    ledger = FaultLedger("crashed", tmp_path)
    ledger.record_object("namespace kg-probes", undo("kg-probes"))
    ledger.record_object("namespace kg-1", undo("kg-1"))
    ledger.inject("stop etcd on cp1", undo("etcd"), lambda: None)
    rewrite_owner(ledger.path, dead_pid())
    lines = recover(tmp_path, report=lambda _line: None)
    assert calls == ["etcd", "kg-1", "kg-probes"]
    assert lines == [
        "rolled back: run crashed: stop etcd on cp1",
        "removed: run crashed: namespace kg-1",
        "removed: run crashed: namespace kg-probes",
    ]
    assert recover(tmp_path, report=lambda _line: None) == []


class ClusterMirrorFake:
    """A mirror that is an object of its own, like the ConfigMap mirror."""

    description = "ConfigMap kube-system/kube-gauntlet-ledger-run"

    def __init__(self, ledger_path):
        self.ledger_path = ledger_path
        self.seen = []

    def __call__(self, entries):
        recorded = [
            e["description"]
            for e in events(self.ledger_path())
            if e["event"] == "open" and e.get("what") == "object"
        ]
        self.seen.append(([e.description for e in entries], recorded))

    def removal(self):
        return undo("mirror")


def test_a_cluster_mirror_is_recorded_before_its_first_write(tmp_path, calls):
    holder = {}
    mirror = ClusterMirrorFake(lambda: holder["ledger"].path)
    ledger = holder["ledger"] = FaultLedger("run-1", tmp_path, mirror=mirror)
    ledger.inject("fault a", undo("a"), lambda: None)
    ledger.inject("fault b", undo("b"), lambda: None)
    assert mirror.seen == [
        (["fault a"], [mirror.description]),
        (["fault a", "fault b"], [mirror.description]),
    ]
    ledger.rollback_all(objects=True)
    assert calls == ["b", "a", "mirror"]


def test_recover_removes_the_mirror_of_a_killed_run(tmp_path, calls):
    mirror = ClusterMirrorFake(lambda: tmp_path / "crashed.jsonl")
    ledger = FaultLedger("crashed", tmp_path, mirror=mirror)
    ledger.inject("fault a", undo("a"), lambda: None)
    rewrite_owner(ledger.path, dead_pid())
    lines = recover(tmp_path, report=lambda _line: None)
    assert calls == ["a", "mirror"]
    assert lines[-1] == f"removed: run crashed: {mirror.description}"


def test_a_killed_run_left_as_a_zombie_counts_as_dead():
    """A SIGKILLed run whose parent died too is a zombie until something
    reaps it: recover must not skip its faults as "still running"."""
    from gauntlet.faults.journal import alive, process_start, process_state

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start(child.pid)
    deadline = time.monotonic() + 10
    while process_state(child.pid) != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.05)
    try:
        assert not alive(child.pid, started)
    finally:
        child.wait()


def test_a_listener_is_told_each_fault_opened_injected_and_done(
    tmp_path, calls
):
    ledger = FaultLedger("run-1", tmp_path)
    told = []
    with ledger.listening(lambda what, e: told.append((what, e.description))):
        ledger.record_object("namespace x", undo("ns"))  # not a fault
        ledger.inject("stop kubelet", undo("kubelet"), lambda: None)
        ledger.rollback_all()
    ledger.inject("after", undo("late"), lambda: None)  # no longer told
    assert told == [
        ("open", "stop kubelet"),
        ("injected", "stop kubelet"),
        ("done", "stop kubelet"),
    ]
