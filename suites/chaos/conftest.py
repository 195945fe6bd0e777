"""Fixtures for the RES and PART suites."""

from collections.abc import Iterator

import pytest

from gauntlet import progress
from gauntlet.checks.chaos import _support, timelines
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import workloads
from gauntlet.faults.ledger import FaultLedger

NODES_READY_TIMEOUT_S = 180.0


@pytest.fixture
def etcd_members(check: CheckContext) -> int:
    """How many etcd members the cluster has (skip when etcd is hidden)."""
    count = len(check.topology.etcd_members)
    if count == 0:
        raise CheckSkipped("etcd members are not visible on this cluster")
    return count


@pytest.fixture
def settled(check: CheckContext, etcd_members: int) -> int:
    """Start from a healthy control plane (an earlier fault may still be
    recovering); the etcd member count."""
    check.require_nodes("checking the control plane")
    _support.wait_control_plane_healthy(check, etcd_members)
    return etcd_members


@pytest.fixture
def workers_settled(check: CheckContext) -> None:
    """Start worker-only guarantees from a settled cluster without
    needing etcd: the control plane is waited for where etcd is
    visible, else every node is waited for until Ready."""
    members = len(check.topology.etcd_members)
    if members and check.nodes is not None:
        _support.wait_control_plane_healthy(check, members)
        return
    core = check.cluster.core()
    progress.wait_until(
        "every node to be Ready",
        lambda: all(workloads.node_is_ready(n) for n in core.list_node().items),
        NODES_READY_TIMEOUT_S,
        2.0,
    )


@pytest.fixture(autouse=True)
def _timeline(check: CheckContext, ledger: FaultLedger) -> Iterator[None]:
    """Every RES and PART test attaches its timeline: the fault windows,
    node states, leaders and restarts the sampler saw, and what the check
    measured, on one time axis."""
    with timelines.recorded(check, ledger):
        yield
