"""PART-02: no split brain."""

import pytest

from gauntlet.checks.chaos.partition import check_no_split_brain

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("PART-02")
@pytest.mark.faults("partition the last control plane from the others, 20 s")
def test_history_through_every_api_server_shows_no_split_brain(
    check, ledger, settled
):
    """Guarantee: across a minority partition and its heal, no acknowledged
    write MUST be lost, the minority MUST acknowledge none, reads MUST only
    return written values, resourceVersions MUST only grow and all etcd
    members MUST agree on revision and hash."""
    check_no_split_brain(check, ledger, settled)
