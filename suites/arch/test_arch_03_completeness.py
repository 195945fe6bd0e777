"""ARCH-03: the control plane is complete."""

import pytest

from gauntlet.checks.arch.completeness import check_control_plane_is_complete

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-03")
@pytest.mark.readonly
def test_every_control_plane_component_and_kube_proxy_runs(check):
    """Guarantee: every control-plane node MUST run kube-apiserver,
    kube-scheduler, kube-controller-manager and its stacked etcd member, and
    every node MUST run kube-proxy."""
    check_control_plane_is_complete(check)
