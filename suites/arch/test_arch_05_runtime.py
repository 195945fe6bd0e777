"""ARCH-05: nodes use a CRI runtime."""

import pytest

from gauntlet.checks.arch.runtime import check_nodes_use_a_cri_runtime

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-05")
@pytest.mark.readonly
def test_every_node_reports_containerd_or_cri_o(check):
    """Guarantee: every node MUST report a CRI runtime (containerd or
    CRI-O), never docker, and its kubelet version is reported."""
    check_nodes_use_a_cri_runtime(check)
