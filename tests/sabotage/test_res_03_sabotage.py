"""RES-03 catches API servers that all talk to one etcd member: when that
member (a follower) stops, the API stops taking writes although etcd
kept its quorum."""

import pytest
from control_plane_sabotage import set_flags_on_control_planes
from etcd_sabotage import client_url

from gauntlet.checks.chaos.etcd import check_follower_loss
from gauntlet.errors import GuaranteeViolated

ONLY = "cp1"
"""The lowest address: the follower the check stops first."""


def make_follower(etcd, faults, node: str) -> None:
    """Move etcd leadership off ``node`` if it holds it."""
    members = etcd.statuses()
    url = client_url(faults, node)
    mine = next(m for m in members if m.endpoint == url)
    if not mine.is_leader:
        return
    other = next(m for m in members if m.endpoint != url)
    out = etcd.run("move-leader", other.member_id, endpoints=[url])
    assert out.returncode == 0, out.stderr


@pytest.mark.full_matrix(ci="etcd faults: RES-04's sabotage")
@pytest.mark.disruptive
def test_writes_lost_with_the_one_member_the_api_uses_are_reported(
    etcd, faults, cluster, lab_check, ledger, restore
):
    set_flags_on_control_planes(
        faults,
        cluster,
        lab_check,
        "kube-apiserver",
        {"etcd-servers": client_url(faults, ONLY)},
        restore,
    )
    # last: the restarts may have moved leadership
    make_follower(etcd, faults, ONLY)

    with pytest.raises(GuaranteeViolated) as caught:
        check_follower_loss(lab_check, ledger, 3)

    message = str(caught.value)
    assert message.startswith("one etcd follower down:"), message
    assert f"writes failed with etcd on {ONLY} down" in message, message
