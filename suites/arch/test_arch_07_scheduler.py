"""ARCH-07: the scheduler places by resources, selectors and taints."""

import pytest

from gauntlet.checks.arch.scheduler import check_scheduler_places_pods

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-07")
def test_scheduler_enforces_requests_selectors_taints_and_anti_affinity(
    check,
):
    """Guarantee: the scheduler MUST leave a pod that no node's allocatable
    CPU fits Pending with FailedScheduling, place a nodeSelector pod on its
    node, leave a pod pinned to a node whose taint it does not tolerate
    Pending, and spread required anti-affinity replicas over workers."""
    check_scheduler_places_pods(check)
