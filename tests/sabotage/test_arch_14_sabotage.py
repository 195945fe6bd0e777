"""ARCH-14 catches a scheduler Lease that nobody renews, and a second
scheduler that runs without leader election."""

import pytest
from arch_sabotage import stop_on_control_planes
from front_sabotage import start_unelected_scheduler

from gauntlet.checks.arch.leases import check_one_active_leader_each
from gauntlet.errors import GuaranteeViolated

ROGUE_NODE = "cp1"


@pytest.mark.full_matrix(ci="the kubeadm lab's ARCH-14 sabotage")
def test_unrenewed_scheduler_lease_is_reported(
    faults, cluster, lab_check, restore
):
    holder = (
        cluster.coordination()
        .read_namespaced_lease("kube-scheduler", "kube-system")
        .spec.holder_identity
    )
    stop_on_control_planes(faults, cluster, "kube-scheduler", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_one_active_leader_each(lab_check)

    message = str(caught.value)
    lease = "Lease kube-system/kube-scheduler"
    assert (
        f"{lease} held by {holder} was not renewed for" in message
        or f"{lease} has no holder" in message
    ), message
    assert "kube-controller-manager" not in message, message

    restore.close()
    check_one_active_leader_each(lab_check)


def test_second_scheduler_without_leader_election_is_reported(
    faults, lab_check, restore
):
    pid = start_unelected_scheduler(faults, ROGUE_NODE, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_one_active_leader_each(lab_check)

    message = str(caught.value)
    assert "kube-scheduler has 2 active instances: " in message, message
    assert (
        f"kube-scheduler pid {pid} on {ROGUE_NODE} without leader election "
        "(--leader-elect=false)"
    ) in message, message
    assert "kube-controller-manager" not in message, message

    restore.close()
    check_one_active_leader_each(lab_check)
