"""RES-04 catches etcd members tuned so that an election takes too long
(election timeout 10 s instead of 1 s)."""

import pytest
from etcd_sabotage import set_etcd_flags

from gauntlet.checks.chaos import _support
from gauntlet.checks.chaos.etcd import check_leader_loss
from gauntlet.errors import GuaranteeViolated

SLOW = {"election-timeout": "10000", "heartbeat-interval": "1000"}


@pytest.mark.disruptive
def test_a_slow_election_is_reported(etcd, faults, lab_check, ledger, restore):
    restore.callback(_support.wait_control_plane_healthy, lab_check, 3)
    for node in ("cp1", "cp2", "cp3"):
        set_etcd_flags(etcd, faults, node, SLOW, restore)
    _support.wait_control_plane_healthy(lab_check, 3)

    with pytest.raises(GuaranteeViolated) as caught:
        check_leader_loss(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("etcd leader on cp"), message
    assert (
        "new leader after" in message
        or "a new etcd leader: not reached within" in message
    ), message
