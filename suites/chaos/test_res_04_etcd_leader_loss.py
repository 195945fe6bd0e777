"""RES-04: Losing the etcd leader costs only an election."""

import pytest

from gauntlet.checks.chaos.etcd import check_leader_loss

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-04")
@pytest.mark.faults("SIGKILL the etcd leader")
def test_killing_the_etcd_leader_costs_one_election_and_no_acknowledged_write(
    check, ledger, settled
):
    """Guarantee: after the etcd leader is killed a new leader MUST be
    elected within 5 s, the API write outage MUST stay under 10 s and no
    acknowledged write MUST be lost."""
    check_leader_loss(check, ledger, settled)
