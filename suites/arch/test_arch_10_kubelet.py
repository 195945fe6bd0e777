"""ARCH-10: the kubelet runs pods and reports."""

import pytest

from gauntlet.checks.arch.kubelet import check_kubelet_runs_pods_and_reports

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-10")
def test_kubelet_restarts_unhealthy_containers_mounts_volumes_and_heartbeats(
    check,
):
    """Guarantee: the kubelet MUST restart a container whose liveness probe
    fails, mount ConfigMap and emptyDir volumes, and renew its node's Lease
    at least every 15 s."""
    check_kubelet_runs_pods_and_reports(check)
