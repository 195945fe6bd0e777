"""Checks hand outages to the node and read how they ended: the ledger
entry, the window judged, the samples of a cut-off worker, a restart
timed from the kernel's record."""

import subprocess
import time
from types import SimpleNamespace

import pytest

from gauntlet.checks.chaos import _support, nodes, workers
from gauntlet.checks.chaos.worker_partition import cut_off_servers
from gauntlet.errors import NodeAccessError
from gauntlet.faults.ledger import FaultLedger, read_ledger
from gauntlet.nodes.host_clock import HostClock
from gauntlet.nodes.types import PARTITION, Restore


class PlannedAccess:
    """Node access that records faults and ends them as told."""

    def __init__(self, ended=None):
        self.calls = []
        self.ended = ended

    def rollback_params(self):
        return {"backend": "lab"}

    def stop(self, node, component, for_s=None, now=False):
        self.calls.append(("halt" if now else "stop", node, component, for_s))

    def kill(self, node, component, sig=9, for_s=None):
        self.calls.append(("kill", node, component, for_s))

    def partition(self, node, peers, for_s=None):
        self.calls.append(("partition", node, tuple(peers), for_s))

    def wait_restored(self, node, what, margin_s=120.0):
        self.calls.append(("wait_restored", node, what))
        if isinstance(self.ended, Exception):
            raise self.ended
        return self.ended


def restore(what="kubelet", applied=1000.0, ended=1030.0, error=0.25):
    return Restore("w1", what, 30.0, applied, ended, "plan", 0.5, error)


def evidence_sink():
    seen = []
    return SimpleNamespace(evidence=lambda name, obj: seen.append(name)), seen


def test_an_outage_is_in_the_ledger_until_its_node_has_ended_it(tmp_path):
    ledger = FaultLedger("run-1", tmp_path)
    access = PlannedAccess(restore())
    down = _support.stop_for(ledger, access, "w1", "kubelet", 30)
    assert access.calls == [("stop", "w1", "kubelet", 30)]
    (entry,) = read_ledger(ledger.path).open_entries
    assert entry.description == "stop kubelet on w1 for 30s"
    assert entry.rollback.kind == "start_component"
    assert 29 < down.left_s() <= 30
    ctx, seen = evidence_sink()
    ended = _support.outage_over(ctx, ledger, access, down)
    assert ended.by == "plan"
    assert read_ledger(ledger.path).open_entries == ()
    assert seen == ["kubelet on w1: the node's record of the outage"]


def test_an_outage_the_node_did_not_end_stays_open_for_the_rollback(tmp_path):
    ledger = FaultLedger("run-1", tmp_path)
    access = PlannedAccess(NodeAccessError("kubelet on node w1: not undone"))
    cut = _support.partition_for(ledger, access, "w1", ["cp1", "cp2"], 20)
    assert access.calls[0] == ("partition", "w1", ("cp1", "cp2"), 20)
    with pytest.raises(NodeAccessError, match="not undone"):
        _support.outage_over(evidence_sink()[0], ledger, access, cut)
    (entry,) = read_ledger(ledger.path).open_entries
    assert entry.description == "partition w1 from cp1, cp2 for 20s"
    assert entry.rollback.kind == "heal_partition"
    assert cut.what == PARTITION


def test_stopping_now_kills_and_stops_in_one_request_with_one_plan(tmp_path):
    """One request: when the API server killed is the one the exec runs
    through, a second request would find no path to the node."""
    access = PlannedAccess(restore("kube-apiserver"))
    ledger = FaultLedger("run-1", tmp_path)
    _support.stop_for(ledger, access, "cp1", "kube-apiserver", 8, now=True)
    assert access.calls == [("halt", "cp1", "kube-apiserver", 8)]


def test_the_judged_window_is_narrowed_by_the_nodes_clock_error():
    now_wall, now_mono = time.time(), time.monotonic()
    ended = restore(applied=now_wall - 30, ended=now_wall - 10, error=0.5)
    start, end = _support.fault_window(ended)
    assert start == pytest.approx(now_mono - 30 + 0.5, abs=0.05)
    assert end == pytest.approx(now_mono - 10 - 0.5, abs=0.05)
    tiny = restore(applied=now_wall, ended=now_wall + 0.2, error=0.5)
    first, last = _support.fault_window(tiny)
    assert first == last  # never an inverted window


def sample(at, **servers):
    return workers.Sample(at, servers)


SERVERS = {"db-1": 41}


def test_a_cut_off_worker_that_kept_its_container_and_nothing_ran_twice():
    on_worker = [sample(t, **{"db-1": 41}) for t in (5, 7, 9)]
    elsewhere = [sample(6), sample(8)]
    kept, twice = cut_off_servers(SERVERS, on_worker, elsewhere, (4, 10), 0.1)
    assert (kept, twice) == (SERVERS, set())


def test_a_replacement_seen_while_the_original_still_ran_ran_twice():
    on_worker = [sample(t, **{"db-1": 41}) for t in (5, 7, 9)]
    elsewhere = [sample(6), sample(8, **{"db-1": 77})]
    kept, twice = cut_off_servers(SERVERS, on_worker, elsewhere, (4, 10), 0.1)
    assert kept == SERVERS and twice == {"db-1"}


def test_a_replacement_seen_after_the_original_was_gone_did_not():
    on_worker = [sample(5, **{"db-1": 41}), sample(7), sample(9)]
    elsewhere = [sample(8, **{"db-1": 77})]
    kept, twice = cut_off_servers(SERVERS, on_worker, elsewhere, (4, 10), 0.1)
    assert kept == {} and twice == set()


def test_only_samples_while_the_partition_held_count():
    on_worker = [sample(1), sample(5, **{"db-1": 41}), sample(12)]
    assert cut_off_servers(SERVERS, on_worker, [], (4, 10), 0) == (
        SERVERS,
        set(),
    )
    assert cut_off_servers(SERVERS, [sample(1)], [], (4, 10), 0) == (
        None,
        set(),
    )


def test_a_workers_own_process_log_reads_as_samples_on_the_runners_clock():
    text = (
        "at 100.00\n41 db-1\n52 other\nat 102.00\nat 104.00\n41 db-1\n"
        "now 110.00\n"
    )
    clock = HostClock(uptime=110.0, at=5000.0, error_s=0.1)
    found = workers.parse_server_log(text, clock, ["db-1"])
    assert found == [
        sample(4990.0, **{"db-1": 41}),
        sample(4992.0),
        sample(4994.0, **{"db-1": 41}),
    ]


def test_the_log_loop_is_valid_shell():
    captured = []

    class Access:
        def run(self, node, argv, timeout_s=60.0):
            captured.append(argv[-1])
            return subprocess.CompletedProcess(argv, 0, "", "")

    path = workers.log_servers(Access(), "w1", 95, 2)
    assert path.startswith("/tmp/kube-gauntlet-servers-")
    done = subprocess.run(["sh", "-n", "-c", captured[0]], check=False)
    assert done.returncode == 0


class KubeletAccess:
    """A node whose kubelet restarts at ``restart_at`` (time.time())."""

    def __init__(self, restart_at, reachable_at):
        self.restart_at = restart_at
        self.reachable_at = reachable_at

    def run(self, node, argv, timeout_s=60.0):
        now = time.time()
        if now < self.reachable_at:
            raise NodeAccessError("exec stream lost")
        # uptime 1000 now; the new kubelet started restart_at
        start_ticks = round((1000 - (now - self.restart_at)) * 100)
        out = f"clk 100\npid 7 {start_ticks}\nnow 1000.00\n"
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_a_restart_is_timed_from_the_kernels_record_not_the_look():
    killed = time.time()
    access = KubeletAccess(restart_at=killed + 0.2, reachable_at=killed + 0.6)
    back = nodes._new_kubelet(access, "w1", {6}, killed, 5)
    assert back == pytest.approx(0.2, abs=0.1)


def test_no_restart_within_the_window_is_never():
    killed = time.time()
    access = KubeletAccess(restart_at=killed, reachable_at=killed + 60)
    assert nodes._new_kubelet(access, "w1", {6}, killed, 0.5) is None


def test_a_kubelet_the_nodes_own_planned_start_ran_is_no_restart():
    killed = time.time()
    access = KubeletAccess(restart_at=killed + 1.6, reachable_at=killed)
    assert nodes._new_kubelet(access, "w1", {6}, killed, 2.0) is None
