"""RES-05: Losing etcd quorum stops writes, not workloads."""

import pytest

from gauntlet.checks.chaos.etcd import check_quorum_loss

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-05")
@pytest.mark.faults("stop a majority of etcd members for 12 s")
def test_losing_etcd_quorum_stops_writes_but_not_the_workload(
    check, ledger, settled
):
    """Guarantee: without etcd quorum writes MUST fail while running pods
    keep answering through their Service; with quorum back writes MUST
    succeed and no acknowledged write MUST be lost."""
    check_quorum_loss(check, ledger, settled)
