"""ARCH-15: pod density limits hold."""

import pytest

from gauntlet.checks.arch.density import check_pod_density_limits

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-15")
def test_node_with_a_low_pod_limit_leaves_the_extra_pod_pending(check):
    """Guarantee: each node's allocatable pod count MUST be reported, and a
    node with a low pod limit MUST get no more pods than the limit: the
    extra pod stays Pending with FailedScheduling."""
    check_pod_density_limits(check)
