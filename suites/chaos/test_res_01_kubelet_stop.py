"""RES-01: A node whose kubelet stops goes NotReady and gets no new work."""

import pytest

from gauntlet.checks.chaos.nodes import check_kubelet_stop

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-01")
@pytest.mark.faults(
    "stop the kubelet of a worker for 120 s (the node restarts it)"
)
@pytest.mark.usefixtures("workers_settled")
def test_worker_without_kubelet_goes_not_ready_and_keeps_its_pods(
    check, ledger
):
    """Guarantee: a worker whose kubelet stops MUST turn NotReady within the
    node-monitor grace period plus 15 s, get the unreachable taint and no
    new pod, keep its containers running, and be Ready again without pod
    restarts once the kubelet is back."""
    check_kubelet_stop(check, ledger)
