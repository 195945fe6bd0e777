"""ARCH-11 catches an even etcd membership with a member that never ran."""

import pytest
from etcd_sabotage import (
    UNSTARTED_PEER_URL,
    add_unstarted_member,
    wait_member_healthy,
)

from gauntlet.checks.arch.ha import check_control_plane_is_highly_available
from gauntlet.errors import GuaranteeViolated


def test_even_membership_with_an_unstarted_member_is_reported(
    etcd, faults, lab_check, restore
):
    for node in ("cp1", "cp2", "cp3"):
        wait_member_healthy(etcd, faults, node)
    member_id = add_unstarted_member(etcd, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_is_highly_available(lab_check)

    message = str(caught.value)
    assert "etcd has an even number of voting members (4:" in message, message
    unstarted = f"unstarted ({member_id}, {UNSTARTED_PEER_URL})"
    assert f"etcd member {unstarted} is unhealthy: never started" in (
        message
    ), message

    restore.close()
    check_control_plane_is_highly_available(lab_check)
