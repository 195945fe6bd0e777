"""ARCH-08 catches a deleted pod that nobody replaces (no controller
manager running), and names the ReplicaSet controller as the broken link."""

import pytest
from arch_sabotage import fresh, stop_on_control_planes

from gauntlet.checks.arch.controllers import (
    check_controllers_hold_desired_state,
    check_deleted_pod_replaced,
    deploy_replicated_web,
)
from gauntlet.errors import GuaranteeViolated


@pytest.mark.full_matrix(
    ci="a stopped control-plane component: ARCH-06's stopped scheduler"
)
def test_deleted_pod_without_a_controller_manager_is_reported(
    faults, cluster, lab_check, restore
):
    name = deploy_replicated_web(lab_check)
    stop_on_control_planes(faults, cluster, "kube-controller-manager", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_deleted_pod_replaced(lab_check, name)

    message = str(caught.value)
    assert f"deployment {name}: replacement for deleted" in message, message
    assert "1 pods, 1 ready" in message, message
    assert (
        "only 1 of 2 pods created by the ReplicaSet controller within 30s: "
        "kube-controller-manager: no leader renewing"
    ) in message, message

    restore.close()
    check_controllers_hold_desired_state(fresh(lab_check))
