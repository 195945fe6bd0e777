"""PART-01: a minority partition loses writes."""

import pytest

from gauntlet.checks.chaos.partition import check_minority_loses_writes

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("PART-01")
@pytest.mark.faults("partition the last control plane from the others, 20 s")
@pytest.mark.usefixtures("settled")
def test_cut_off_api_server_refuses_writes_while_the_majority_accepts_them(
    check, ledger
):
    """Guarantee: an API server cut off from the etcd majority MUST refuse
    writes and linearizable reads within 15 s and never acknowledge one,
    while the majority's API servers keep accepting writes."""
    check_minority_loses_writes(check, ledger)
