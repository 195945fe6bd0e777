"""ARCH-01: only kube-apiserver talks to etcd."""

import pytest

from gauntlet.checks.arch.etcd_access import check_only_apiserver_talks_to_etcd

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-01")
def test_etcd_refuses_everyone_but_the_api_server(check):
    """Guarantee: etcd MUST refuse clients without an etcd-CA certificate
    (from a pod and from outside) and the kubelet's and controller-manager's
    credentials, and only kube-apiserver MUST be configured with and
    connected to etcd's client port."""
    check_only_apiserver_talks_to_etcd(check)
