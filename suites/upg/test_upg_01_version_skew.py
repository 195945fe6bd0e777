"""UPG-01: versions are within the skew policy for the target."""

import pytest

from gauntlet.checks.upg.skew import check_version_skew

pytestmark = [pytest.mark.profile("preupgrade")]


@pytest.mark.guarantee("UPG-01")
@pytest.mark.readonly
def test_every_component_is_within_the_skew_policy_for_the_target(
    check, target_version, say_now
):
    """Guarantee: every API server, kubelet, kube-proxy, controller-manager
    and scheduler MUST be within the upstream version skew policy, and the
    target MUST be one minor step up at most (no skipped minor, no
    downgrade), with nothing left too far behind it; the upgrade order is
    printed."""
    check_version_skew(check, target_version, announce=say_now)
