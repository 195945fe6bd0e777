"""ARCH-04: masters run no applications."""

import pytest

from gauntlet.checks.arch.masters import check_masters_run_no_applications

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-04")
def test_control_plane_nodes_are_tainted_and_run_no_application_pods(check):
    """Guarantee: control-plane nodes (labelled, or running kube-apiserver
    or etcd) MUST carry the control-plane label and NoSchedule taint, run
    no application pod, and never receive a plain test pod."""
    check_masters_run_no_applications(check)
