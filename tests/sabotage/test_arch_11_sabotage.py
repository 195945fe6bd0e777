"""ARCH-11 catches an even etcd membership with a member that never ran,
and three masters on a single etcd member (failure tolerance 0)."""

import pytest
from etcd_sabotage import (
    UNSTARTED_PEER_URL,
    add_unstarted_member,
    fresh_check,
    wait_member_healthy,
)
from lone_etcd import lone_etcd_behind_every_apiserver

from gauntlet.checks.arch.ha import (
    ENV_PROFILE,
    check_control_plane_is_highly_available,
)
from gauntlet.errors import GuaranteeViolated

MASTERS = ("cp1", "cp2", "cp3")


@pytest.mark.full_matrix(ci="the kubeadm lab's ARCH-11 sabotage")
def test_even_membership_with_an_unstarted_member_is_reported(
    etcd, faults, lab_check, restore
):
    for node in MASTERS:
        wait_member_healthy(etcd, faults, node)
    member_id = add_unstarted_member(etcd, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_is_highly_available(fresh_check(lab_check))

    message = str(caught.value)
    assert "etcd has an even number of voting members (4:" in message, message
    unstarted = f"unstarted ({member_id}, {UNSTARTED_PEER_URL})"
    assert f"etcd member {unstarted} is unhealthy: never started" in (
        message
    ), message

    restore.close()
    check_control_plane_is_highly_available(fresh_check(lab_check))


@pytest.mark.full_matrix(ci="the kubeadm lab's ARCH-11 sabotage")
@pytest.mark.disruptive
def test_a_single_etcd_member_behind_three_api_servers_is_reported(
    lab, etcd, faults, lab_check, run_id, restore, monkeypatch
):
    monkeypatch.setenv(ENV_PROFILE, "production")
    for node in MASTERS:  # the fixture finds etcdctl while etcd is whole
        wait_member_healthy(etcd, faults, node)
    lone = lone_etcd_behind_every_apiserver(
        lab, faults, etcd, lab_check, run_id, restore
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_is_highly_available(fresh_check(lab_check))

    message = str(caught.value)
    assert "etcd has 1 voting member, failure tolerance 0" in message, message
    assert "cp3 (" in message and f"{lone})" in message, message
    assert "control-plane node" not in message, message

    restore.close()
    check_control_plane_is_highly_available(fresh_check(lab_check))
