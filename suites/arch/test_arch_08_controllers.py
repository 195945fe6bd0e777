"""ARCH-08: controllers hold desired state."""

import pytest

from gauntlet.checks.arch.controllers import (
    check_controllers_hold_desired_state,
)

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-08")
def test_deployment_replaces_deleted_pod_and_scales_within_30s(check):
    """Guarantee: a Deployment MUST replace a deleted pod with a Ready one
    and converge when scaled 2 -> 4 -> 1, each within 30 s."""
    check_controllers_hold_desired_state(check)
