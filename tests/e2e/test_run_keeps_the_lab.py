"""``gauntlet run`` checks the lab that is up as it is, never rebuilds it
(issue 10, defect 14).

A run used to tear the lab down and boot a new one when a node was not
Ready, erasing the very state the user wanted checked and reporting a
clean lab instead.
"""

from __future__ import annotations

import pytest
from e2e_cli import gauntlet, one_clear_line, summary_of

from gauntlet import progress
from gauntlet.cluster import workloads
from gauntlet.lab import node

pytestmark = pytest.mark.lab_only

# node-monitor-grace-period (40 s) plus the controller's sync and a margin.
NOT_READY_TIMEOUT_S = 90.0
READY_TIMEOUT_S = 90.0


def _node_pids(lab) -> dict[str, int | None]:
    """Each node's init PID: a rebuilt lab has new ones."""
    return {
        n.name: node.init_pid(lab.paths.node(n.name))
        for n in lab.topology().nodes
    }


@pytest.fixture
def w2_not_ready(cluster, faults):
    core = cluster.core()
    faults.stop("w2", "kubelet")
    try:
        progress.wait_until(
            "w2 NotReady after its kubelet stopped",
            lambda: workloads.ready_condition(core, "w2") != "True",
            NOT_READY_TIMEOUT_S,
        )
        yield
    finally:
        faults.start("w2", "kubelet")
        progress.wait_until(
            "w2 Ready again",
            lambda: workloads.ready_condition(core, "w2") == "True",
            READY_TIMEOUT_S,
        )


@pytest.mark.full_matrix(ci="the next test, the same never-rebuild path")
def test_a_run_checks_a_lab_with_a_node_not_ready_instead_of_rebuilding_it(
    lab, cluster, w2_not_ready
):
    before = _node_pids(lab)
    boot_seconds = lab.manifest()["boot_seconds"]
    proc = gauntlet("run", "--profile", "gate", "-k", "arch_05", timeout=300)
    out = (proc.stdout + proc.stderr)[-4000:]
    assert "the 3+2 lab is degraded (not Ready: w2)" in proc.stderr, out
    assert "checking it as it is" in proc.stderr, out
    assert "removing the previous lab" not in out
    summary_of(proc)  # the run went on and wrote its summary
    assert _node_pids(lab) == before, "the lab was rebuilt"
    assert lab.manifest()["boot_seconds"] == boot_seconds
    assert workloads.ready_condition(cluster.core(), "w2") != "True"


def test_a_run_asking_for_another_shape_stops_and_leaves_the_lab_alone(lab):
    before = _node_pids(lab)
    proc = gauntlet(
        "run",
        "--profile",
        "gate",
        "--control-planes",
        "1",
        "--workers",
        "1",
        timeout=120,
    )
    line = one_clear_line(proc)
    assert "a 3+2 lab is up, not the 1+1 asked for" in line, line
    assert (
        "gauntlet lab down && gauntlet lab up --control-planes 1 --workers 1"
        in line
    ), line
    assert _node_pids(lab) == before
