"""ARCH-14: exactly one active scheduler and controller-manager."""

import pytest

from gauntlet.checks.arch.leases import check_one_active_leader_each

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-14")
@pytest.mark.readonly
def test_scheduler_and_controller_manager_leases_have_one_renewing_holder(
    check,
):
    """Guarantee: the kube-scheduler and kube-controller-manager Leases MUST
    each have one holder, running on its node, that renews within the
    lease duration, and MUST be the only active instance: no other runs
    without leader election."""
    check_one_active_leader_each(check)
