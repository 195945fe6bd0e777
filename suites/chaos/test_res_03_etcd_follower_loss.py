"""RES-03: Losing one etcd follower keeps the API writable."""

import pytest

from gauntlet.checks.chaos.etcd import check_follower_loss

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("RES-03")
@pytest.mark.faults("stop etcd on one follower for 10 s")
def test_api_stays_writable_while_one_etcd_follower_is_down(
    check, ledger, settled
):
    """Guarantee: with one etcd follower of three stopped, writes through
    the API MUST keep succeeding, and the member MUST catch up to the same
    revision and hash after its restart."""
    check_follower_loss(check, ledger, settled)
