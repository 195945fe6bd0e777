"""PART-04: Quorum math holds."""

import pytest

from gauntlet.checks.chaos.quorum import check_quorum_math

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("PART-04")
@pytest.mark.faults("stop etcd on (n-1)/2 + 1 members, one at a time")
def test_etcd_tolerates_a_minority_of_failures_and_no_more(
    check, ledger, settled
):
    """Guarantee: with n etcd members, every write MUST succeed while up
    to (n-1)/2 members are stopped, none MAY be acknowledged once one more
    is stopped, and no acknowledged write MAY be lost."""
    check_quorum_math(check, ledger, settled)
