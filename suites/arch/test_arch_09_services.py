"""ARCH-09: kube-proxy implements Services."""

import pytest

from gauntlet.checks.arch.services import check_kube_proxy_implements_services

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-09")
def test_cluster_ip_reaches_only_ready_backends_from_every_node(check):
    """Guarantee: a ClusterIP Service MUST reach all its ready backends from
    a pod on every node, and a backend whose readiness fails MUST leave the
    EndpointSlice and stop getting traffic from every node."""
    check_kube_proxy_implements_services(check)
