"""RES-08 catches a scheduler without a standby: kube-scheduler runs on
the lease holder's node only, so nobody takes its Lease over when it dies
and the pod created meanwhile is never scheduled.

The bound is the configured leaseDuration + retryPeriod (read from the
command lines, else the Lease): a scheduler configured with a 45 s lease
is judged against that, not against the 15 s default. The second test
shows it with the same 45 s lease that the fixed bound used to report.
"""

import pytest
from arch_sabotage import wait_leader_renewing
from control_plane_sabotage import (
    control_planes,
    set_flags_on_control_planes,
    wait_settled,
)

from gauntlet.checks.chaos.control_plane import check_leader_failover
from gauntlet.errors import GuaranteeViolated

SLOW_LEASE = {
    "leader-elect-lease-duration": "45s",
    "leader-elect-renew-deadline": "30s",
}
DEFAULT_BOUND_S = 23.8
"""leaseDuration + retryPeriod as client-go times them, with defaults."""


def lease_holder_node(cluster, lease: str) -> str:
    found = cluster.coordination().read_namespaced_lease(lease, "kube-system")
    return str(found.spec.holder_identity).split("_", 1)[0]


@pytest.mark.full_matrix(
    ci=(
        "leader election: the kubeadm lab's ARCH-14 sabotage; RES-08 passes "
        "in the gameday run"
    )
)
@pytest.mark.disruptive
def test_a_scheduler_without_a_standby_is_reported(
    faults, cluster, lab_check, ledger, restore
):
    restore.callback(wait_settled, cluster, lab_check)  # runs last
    wait_leader_renewing(cluster, "kube-scheduler")
    holder = lease_holder_node(cluster, "kube-scheduler")
    for node in control_planes(faults):
        if node != holder:
            faults.stop(node, "kube-scheduler")
            restore.callback(faults.start, node, "kube-scheduler")

    with pytest.raises(GuaranteeViolated) as caught:
        check_leader_failover(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("leader failover: "), message
    assert f"lease kube-scheduler taken over from {holder}_" in message, message
    assert "not reached within 60s" in message, message
    assert "pods of failover scheduled: not reached" in message, message
    assert "kube-controller-manager taken over" not in message, message


@pytest.mark.full_matrix(
    ci=(
        "leader election: the kubeadm lab's ARCH-14 sabotage; RES-08 passes "
        "in the gameday run"
    )
)
@pytest.mark.disruptive
def test_a_configured_slow_lease_is_judged_by_its_own_bound(
    faults, cluster, lab_check, ledger, restore
):
    set_flags_on_control_planes(
        faults, cluster, lab_check, "kube-scheduler", SLOW_LEASE, restore
    )

    takeovers = check_leader_failover(lab_check, ledger, 3)  # no violation

    assert takeovers["kube-scheduler"] > DEFAULT_BOUND_S, takeovers
    parts = {p.name: p.status for p in lab_check.parts}
    assert parts["kube-scheduler Lease taken over in time"] == "checked"
