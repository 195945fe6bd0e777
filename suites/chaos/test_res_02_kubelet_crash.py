"""RES-02: A crashed kubelet is restarted by its supervisor."""

import pytest

from gauntlet.checks.chaos.nodes import check_kubelet_crash

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-02")
@pytest.mark.faults(
    "SIGKILL the kubelet of a worker running pods (the node starts it after"
    " 35 s if its supervisor did not)"
)
@pytest.mark.usefixtures("workers_settled")
def test_a_killed_kubelet_comes_back_before_its_node_goes_not_ready(
    check, ledger
):
    """Guarantee: a SIGKILLed kubelet MUST be running again (a new
    process) within 15 s, its node MUST stay Ready throughout and no pod
    on it MUST restart."""
    check_kubelet_crash(check, ledger)
