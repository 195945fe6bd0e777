"""ARCH-05 catches a node that reports the docker runtime.

The kubelet reports the runtime from the CRI and rewrites a patched
``nodeInfo`` on its next status update (every 10 s), so the check runs
right after the patch, and the patch is repeated if the kubelet won the
race; restore waits for the kubelet's own value.
"""

import pytest
from arch_sabotage import fresh

from gauntlet import progress
from gauntlet.checks.arch.runtime import check_nodes_use_a_cri_runtime
from gauntlet.errors import GuaranteeViolated

NODE = "w2"
FAKE = "docker://24.0.0"
ATTEMPTS = 3
KUBELET_REWRITE_TIMEOUT_S = 60.0


def _runtime(core):
    return core.read_node(NODE).status.node_info.container_runtime_version


def _report_docker(core):
    patch = {"status": {"nodeInfo": {"containerRuntimeVersion": FAKE}}}
    core.patch_node_status(NODE, patch)


def _wait_kubelet_rewrites(core):
    progress.wait_until(
        f"kubelet on {NODE} reports its real runtime",
        lambda: not _runtime(core).startswith("docker://"),
        KUBELET_REWRITE_TIMEOUT_S,
    )


def test_node_reporting_docker_is_reported(cluster, lab_check, restore):
    core = cluster.core()
    restore.callback(_wait_kubelet_rewrites, core)
    for _ in range(ATTEMPTS):
        _report_docker(core)
        try:
            check_nodes_use_a_cri_runtime(fresh(lab_check))
        except GuaranteeViolated as exc:
            message = str(exc)
            break
    else:
        pytest.fail(f"the kubelet rewrote {NODE}'s runtime before each check")

    assert f"{NODE} reports {FAKE}" in message, message

    restore.close()
    check_nodes_use_a_cri_runtime(fresh(lab_check))
