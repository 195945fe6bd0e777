"""ARCH-16: pods talk across nodes directly."""

import pytest

from gauntlet.checks.arch.pod_network import check_pods_talk_across_nodes

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-16")
def test_pod_on_one_worker_reaches_pod_on_another_by_pod_ip(check):
    """Guarantee: a pod on one worker MUST reach a pod on another worker by
    its pod IP, both ways, and be seen there with its own pod IP; every
    node's pod network is exercised as caller and callee."""
    check_pods_talk_across_nodes(check)
