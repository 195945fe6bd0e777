"""RES-10: Nodes can leave and join a running cluster."""

import pytest

from gauntlet.checks.chaos.maintenance import check_leave_and_join

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-10")
@pytest.mark.faults(
    "drain a worker, stop its kubelet for 45 s (the node restarts it), "
    "delete its Node"
)
@pytest.mark.usefixtures("workers_settled")
def test_a_removed_worker_joins_again_ready_and_schedulable(check, ledger):
    """Guarantee: a worker that was drained, stopped and deleted MUST
    register again Ready within 60 s of its kubelet's start (the node
    startup grace period) and run a pod pinned to it, while the workload
    on the other worker keeps answering through its Service (95 %)."""
    check_leave_and_join(check, ledger)
