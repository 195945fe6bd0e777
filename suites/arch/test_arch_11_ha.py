"""ARCH-11: the control plane is highly available."""

import pytest

from gauntlet.checks.arch.ha import check_control_plane_is_highly_available

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-11")
@pytest.mark.readonly
def test_etcd_is_odd_healthy_and_led_by_one_member(check):
    """Guarantee: etcd MUST have an odd number of voting members that
    tolerate losing one, all healthy, with exactly one leader, on at least
    3 control-plane nodes (a warning only in the dev HA profile)."""
    check_control_plane_is_highly_available(check)
