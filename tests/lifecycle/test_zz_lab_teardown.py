"""`up` recovers from a killed lab and `down` leaves nothing behind.

Run last (scripts/test.sh orders it): it tears the lab down.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from leftovers import assert_nothing_left

from gauntlet.lab import node
from gauntlet.lab.cluster import LabCluster

pytestmark = pytest.mark.lab_only


def test_up_rebuilds_a_lab_whose_processes_were_killed(lab: LabCluster):
    lab.up(control_planes=3, workers=2)  # an earlier test may have shrunk it
    victim = node.init_pid(lab.paths.node("cp2"))
    assert victim is not None
    os.kill(victim, signal.SIGKILL)  # as if the host lost the node
    _wait_gone(lab, "cp2")
    assert not lab.healthy()
    report = lab.up(control_planes=3, workers=2)
    assert not report.reused
    assert sorted(lab.ready_nodes()) == ["cp1", "cp2", "cp3", "w1", "w2"]


def _wait_gone(lab: LabCluster, name: str, timeout_s: float = 15.0) -> None:
    """SIGKILL is asynchronous: wait until the node's init has exited."""
    deadline = time.monotonic() + timeout_s
    while node.init_pid(lab.paths.node(name)) is not None:
        assert time.monotonic() < deadline, f"{name}'s init outlived SIGKILL"
        time.sleep(0.1)


def test_down_leaves_nothing_behind_and_is_idempotent(lab: LabCluster, ledger):
    # What this test session made on the lab (its probe namespace, its
    # ledger's mirror) goes while the lab is up: the shapes that follow
    # replace the lab, and a cleanup at session end would find none.
    assert ledger.rollback_all(objects=True) == []
    assert lab.down() == []
    assert lab.down() == []
    assert_nothing_left(lab)
