"""A wait of a RES check that runs out raises ``GuaranteeTimeout`` with
the last state it observed (node conditions, pod phases, etcd members),
never a bare ``None`` that the caller has to explain without evidence."""

from types import SimpleNamespace

import pytest

from gauntlet import progress
from gauntlet.checks.chaos import etcd, maintenance
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.etcd import EtcdHash, MemberStatus
from gauntlet.observe.watch import Seen


class Watched:
    """A node watch that has seen ``versions`` and whose latest is
    ``latest`` (what ``Watcher`` offers, without a cluster)."""

    def __init__(self, versions, latest):
        self.versions = versions
        self.latest_seen = latest

    def history(self, name):
        return self.versions

    def latest(self):
        return self.latest_seen

    def wait(self, what, probe, timeout_s, poll_s, describe=None):
        return progress.wait_until(
            what, probe, timeout_s, 0.01, describe, quiet=True
        )


def node(ready, reason="", taints=()):
    return SimpleNamespace(
        status=SimpleNamespace(
            conditions=[
                SimpleNamespace(type="Ready", status=ready, reason=reason)
            ]
        ),
        spec=SimpleNamespace(
            unschedulable=None,
            taints=[SimpleNamespace(key=k) for k in taints],
        ),
    )


def test_a_worker_that_never_registers_again_says_there_is_no_node():
    gone = Watched([Seen(1.0, "DELETED", node("True"))], {})
    with pytest.raises(GuaranteeTimeout) as caught:
        maintenance._ready_after(gone, "w2", 2.0, 0.05)
    assert str(caught.value) == (
        "w2 registered and Ready after its kubelet's start: not reached "
        "within 0s (last observed: no Node object)"
    )


def test_a_worker_that_registers_but_stays_not_ready_gives_its_condition():
    stuck = node("False", "KubeletNotReady", ["node.kubernetes.io/not-ready"])
    watched = Watched([Seen(3.0, "ADDED", stuck)], {"w2": stuck})
    with pytest.raises(GuaranteeTimeout) as caught:
        maintenance._ready_after(watched, "w2", 2.0, 0.05)
    assert str(caught.value).endswith(
        "(last observed: Ready=False (KubeletNotReady), unschedulable=False, "
        "taints=['node.kubernetes.io/not-ready'])"
    )


def pod(name, node_name, phase, ready, waiting=None):
    state = SimpleNamespace(
        waiting=SimpleNamespace(reason=waiting) if waiting else None
    )
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name),
        spec=SimpleNamespace(node_name=node_name),
        status=SimpleNamespace(
            phase=phase,
            container_statuses=[SimpleNamespace(ready=ready, state=state)],
        ),
    )


def test_pods_that_never_move_off_a_drained_node_give_their_phases(
    monkeypatch,
):
    pods = [
        pod("web-a", "w1", "Running", True),
        pod("web-b", "w2", "Running", True),
        pod("web-c", None, "Pending", False, "ContainerCreating"),
    ]
    core = SimpleNamespace(
        list_namespaced_pod=lambda ns, label_selector: SimpleNamespace(
            items=pods
        )
    )
    ctx = SimpleNamespace(
        cluster=SimpleNamespace(core=lambda: core), namespace="kg-test"
    )
    monkeypatch.setattr(maintenance, "MOVE_TIMEOUT_S", 0.0)
    with pytest.raises(GuaranteeTimeout) as caught:
        maintenance._moved(ctx, "w2")
    assert str(caught.value) == (
        "3 web pods ready off w2: not reached within 0s (last observed: "
        "web-a on w1 Running ready, web-b on w2 Running ready, "
        "web-c on unscheduled Pending not ready (ContainerCreating))"
    )


def status(i, leader):
    return MemberStatus(f"https://10.250.0.1{i}:2379", str(i), leader, 9, 2, 1)


class Etcd:
    def __init__(self, statuses, hashes=()):
        self.found = statuses
        self.sums = list(hashes)

    def statuses(self, endpoints=None):
        return self.found

    def hashes(self, revision=None):
        return self.sums


def test_an_election_that_never_ends_says_whom_the_survivors_follow(
    monkeypatch,
):
    monkeypatch.setattr(etcd, "ELECTION_TIMEOUT_S", 0.0)
    survivors = Etcd([status(2, "0"), status(3, "0")])
    with pytest.raises(GuaranteeTimeout) as caught:
        etcd.wait_new_leader(survivors, "1", ["a", "b"])
    assert str(caught.value) == (
        "a new etcd leader: not reached within 0s (last observed: "
        "https://10.250.0.12:2379 follows 0, https://10.250.0.13:2379 "
        "follows 0)"
    )


def test_the_killed_leader_elected_again_at_a_later_term_is_a_new_leader():
    """A static pod's etcd restarts at once and may win the election its
    death caused: the election happened (the term moved)."""
    again = MemberStatus("https://10.250.0.12:2379", "2", "1", 9, 3, 1)
    assert etcd.wait_new_leader(Etcd([again]), "1", ["a"], old_term=2)


def test_the_old_leader_at_the_old_term_is_no_new_leader(monkeypatch):
    monkeypatch.setattr(etcd, "ELECTION_TIMEOUT_S", 0.0)
    same = MemberStatus("https://10.250.0.12:2379", "2", "1", 9, 2, 1)
    with pytest.raises(GuaranteeTimeout):
        etcd.wait_new_leader(Etcd([same]), "1", ["a"], old_term=2)


def test_a_member_that_never_catches_up_gives_the_hashes_seen(monkeypatch):
    monkeypatch.setattr(etcd, "CATCH_UP_TIMEOUT_S", 0.0)
    members = [status(i, "1") for i in (1, 2, 3)]
    sums = [
        EtcdHash(m.endpoint, 9, 9, 7 if i == 2 else 5, 0)
        for i, m in enumerate(members, start=1)
    ]
    with pytest.raises(GuaranteeTimeout) as caught:
        etcd._catch_up(Etcd(members, sums), 3, "cp2")
    message = str(caught.value)
    assert message.startswith(
        "etcd on cp2 at the others' revision and hash: not reached within 0s"
    )
    assert "https://10.250.0.12:2379 hash 7 at 9" in message
