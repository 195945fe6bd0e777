"""RES-01 catches a control plane that is slow to see a dead kubelet: a
node-monitor grace period of 90 s (default 50) leaves the node Ready,
and schedulable, long after its kubelet stopped."""

import pytest
from control_plane_sabotage import set_flags_on_control_planes

from gauntlet.checks.chaos.nodes import check_kubelet_stop
from gauntlet.errors import GuaranteeViolated


@pytest.mark.full_matrix(
    ci=(
        "a recovery slower than its bound: RES-04's slow election; RES-01 "
        "passes in the gameday run"
    )
)
@pytest.mark.disruptive
def test_a_node_that_stays_ready_too_long_is_reported(
    faults, cluster, lab_check, ledger, restore
):
    set_flags_on_control_planes(
        faults,
        cluster,
        lab_check,
        "kube-controller-manager",
        {"node-monitor-grace-period": "90s"},
        restore,
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_kubelet_stop(lab_check, ledger)

    message = str(caught.value)
    assert message.startswith("kubelet stopped on w"), message
    assert "went NotReady only after" in message, message
