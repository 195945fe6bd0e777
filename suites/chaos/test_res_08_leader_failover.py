"""RES-08: Scheduler and controller-manager fail over."""

import pytest

from gauntlet.checks.chaos.control_plane import check_leader_failover

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-08")
@pytest.mark.faults(
    "stop the kube-scheduler and kube-controller-manager lease holders"
)
def test_scheduler_and_controller_manager_leases_are_taken_over(
    check, ledger, settled
):
    """Guarantee: when the kube-scheduler or kube-controller-manager lease
    holder stops, another instance MUST take the Lease within the
    leaseDuration + retryPeriod it is configured with (read from the
    command lines or the Lease, else the 15 s and 2 s defaults) and work
    created meanwhile MUST be scheduled and reconciled."""
    check_leader_failover(check, ledger, settled)
