"""The fault API breaks the lab the way real failures do, and heals it."""

from __future__ import annotations

import time

import pytest

from gauntlet import progress
from gauntlet.cluster import workloads
from gauntlet.errors import ClusterOperationFailed
from gauntlet.lab.access import LabNodeAccess
from gauntlet.observe.etcd import EtcdClient, MemberStatus
from gauntlet.wellknown import ETCD_CLIENT_PORT

pytestmark = pytest.mark.lab_only

# node-monitor-grace-period (40 s) plus the controller's sync and a margin.
NOT_READY_TIMEOUT_S = 90.0
RECOVERY_TIMEOUT_S = 60.0


@pytest.mark.full_matrix(
    ci="RES-01 in the gameday run stops a kubelet and waits for NotReady"
)
def test_stopping_a_worker_kubelet_makes_the_node_not_ready(
    cluster, faults: LabNodeAccess
):
    core = cluster.core()
    faults.stop("w2", "kubelet")
    try:
        start = time.monotonic()
        progress.wait_until(
            "w2 NotReady after its kubelet stopped",
            lambda: workloads.ready_condition(core, "w2") != "True",
            NOT_READY_TIMEOUT_S,
            describe=lambda: workloads.ready_condition(core, "w2"),
        )
        progress.say(f"w2 NotReady after {time.monotonic() - start:.1f}s")
    finally:
        faults.start("w2", "kubelet")
    progress.wait_until(
        "w2 Ready again",
        lambda: workloads.ready_condition(core, "w2") == "True",
        RECOVERY_TIMEOUT_S,
    )


def test_a_killed_kubelet_is_restarted_by_the_supervisor(
    faults: LabNodeAccess,
):
    before = faults.component("w1", "kubelet")
    faults.kill("w1", "kubelet")
    after = progress.wait_until(
        "a new kubelet process on w1",
        lambda: (
            (c := faults.component("w1", "kubelet"))["state"] == "running"
            and c["pid"] != before["pid"]
            and c
        ),
        15.0,
    )
    assert after["restarts"] == before["restarts"] + 1


def test_a_partitioned_control_plane_etcd_member_loses_its_leader(
    faults: LabNodeAccess, etcd: EtcdClient
):
    leader = next(m for m in etcd.statuses() if m.is_leader)
    first = f"10.250.0.11:{ETCD_CLIENT_PORT}"
    victim = "cp3" if leader.endpoint.endswith(first) else "cp1"
    victim_ip = faults.lab.topology().node(victim).ip
    endpoint = [f"https://{victim_ip}:{ETCD_CLIENT_PORT}"]
    peers = [n for n in ("cp1", "cp2", "cp3") if n != victim]
    faults.partition(victim, peers)
    try:

        def leaderless() -> bool:
            members = answering(etcd, endpoint)
            return bool(members) and members[0].leader_id == "0"

        progress.wait_until(
            f"{victim}'s etcd member to lose the leader", leaderless, 30.0
        )
    finally:
        faults.heal(victim)

    def caught_up() -> bool:
        members = answering(etcd)
        return (
            len(members) == 3
            and sum(m.is_leader for m in members) == 1
            and len({m.revision for m in members}) == 1
        )

    progress.wait_until("etcd whole again with one leader", caught_up, 30.0)


def answering(
    etcd: EtcdClient, endpoints: list[str] | None = None
) -> list[MemberStatus]:
    """The members that answer; none while a partition hides them all."""
    try:
        return etcd.statuses(endpoints)
    except ClusterOperationFailed:
        return []
