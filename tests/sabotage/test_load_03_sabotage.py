"""LOAD-03 catches etcd members tuned so that an election after the
leader's kill outlasts the error budget (election timeout 15 s instead
of 1 s): the load sees no successful request for longer than the bound.

RES-04's 10 s timeout left LOAD-03 one second over its 8 s bound in one
run (the survivors had heard the leader 0.2 s before the kill); 15 s
keeps the outage clear of the bound."""

import pytest
from etcd_sabotage import set_etcd_flags

from gauntlet.checks.chaos import _support
from gauntlet.checks.load.chaos_under_load import check_chaos_under_load
from gauntlet.errors import GuaranteeViolated

SLOW = {"election-timeout": "15000", "heartbeat-interval": "1500"}


# CI runs the slow-election family as RES-04's sabotage (the same etcd
# flags); this one proves LOAD-03 names it too.
@pytest.mark.full_matrix(ci="a slow election: RES-04's sabotage")
@pytest.mark.disruptive
def test_a_slow_election_under_load_overspends_the_error_budget(
    etcd, faults, lab_check, ledger, restore
):
    restore.callback(_support.wait_control_plane_healthy, lab_check, 3)
    for node in ("cp1", "cp2", "cp3"):
        set_etcd_flags(etcd, faults, node, SLOW, restore)
    _support.wait_control_plane_healthy(lab_check, 3)

    with pytest.raises(GuaranteeViolated) as caught:
        check_chaos_under_load(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("chaos under load: etcd leader on cp"), message
    leader_kill = message.split("; ")[0]
    assert "outage window" in leader_kill or "error budget" in leader_kill, (
        message
    )
    restore.close()
