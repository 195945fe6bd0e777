"""RES-08 catches leader election tuned too slow: with a 45 s lease
nobody takes over within leaseDuration (15 s) + retryPeriod (2 s)."""

import pytest
from control_plane_sabotage import set_flags_on_control_planes

from gauntlet.checks.chaos.control_plane import check_leader_failover
from gauntlet.errors import GuaranteeViolated

SLOW_LEASE = {
    "leader-elect-lease-duration": "45s",
    "leader-elect-renew-deadline": "30s",
}


@pytest.mark.disruptive
def test_a_slow_takeover_is_reported(
    faults, cluster, lab_check, ledger, restore
):
    set_flags_on_control_planes(
        faults, cluster, lab_check, "kube-scheduler", SLOW_LEASE, restore
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_leader_failover(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("leader failover:"), message
    assert "kube-scheduler taken over after" in message, message
    assert "kube-controller-manager taken over" not in message, message
