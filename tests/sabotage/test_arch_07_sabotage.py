"""ARCH-07 catches a scheduler that ignores requests, selectors, taints
and anti-affinity (the real ones stopped, a rogue binder in their place),
and does not blame the scheduler when the Deployment never reconciled
(no controller manager running)."""

import pytest
from arch_sabotage import fresh, rogue_scheduler, stop_on_control_planes

from gauntlet.checks.arch.scheduler import check_scheduler_places_pods
from gauntlet.errors import GuaranteeViolated


def test_rogue_scheduler_binding_everything_to_one_node_is_reported(
    faults, cluster, lab_check, restore
):
    rogue_scheduler(faults, cluster, lab_check.namespace, "w1", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_scheduler_places_pods(lab_check)

    message = str(caught.value)
    assert "-oversized requesting" in message, message
    assert "was bound to w1 with no Scheduled event" in message, message
    assert "kubernetes.io/hostname=w2 landed on w1" in message, message
    assert "-tainted pinned to cp1 without tolerating its taint" in message
    assert "anti-affinity replicas share a node" in message, message
    statuses = {p.status for p in lab_check.parts}
    assert statuses == {"violated"}, lab_check.parts

    restore.close()
    check_scheduler_places_pods(fresh(lab_check))


@pytest.mark.full_matrix(
    ci=(
        "ARCH-07's rogue scheduler; a stopped control-plane component: "
        "ARCH-06's"
    )
)
def test_deployment_never_reconciled_blames_the_controllers_not_the_scheduler(
    faults, cluster, lab_check, restore
):
    stop_on_control_planes(faults, cluster, "kube-controller-manager", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_scheduler_places_pods(lab_check)

    message = str(caught.value)
    assert (
        "-spread: no ReplicaSet created by the Deployment controller "
        "within 30s: kube-controller-manager: no leader renewing"
    ) in message, message
    assert "kube-scheduler" not in message, message
    assert "not scheduled" not in message, message
    parts = {p.name: p.status for p in lab_check.parts}
    assert parts == {
        "resources": "checked",
        "selectors": "checked",
        "taints": "checked",
        "anti-affinity": "violated",
    }, parts

    restore.close()
    check_scheduler_places_pods(fresh(lab_check))
