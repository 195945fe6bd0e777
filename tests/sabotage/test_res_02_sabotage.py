"""RES-02 catches a node whose kubelet is not restarted after a crash
(a kubelet unit with ``Restart=no``)."""

import pytest

from gauntlet import progress
from gauntlet.checks.chaos.nodes import check_kubelet_crash
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeViolated

WORKERS = ("w1", "w2")


def restart_again(faults, cluster, node):
    faults.set_restart(node, "kubelet", True)
    faults.start(node, "kubelet")
    progress.wait_until(
        f"{node} Ready again",
        lambda: workloads.ready_condition(cluster.core(), node) == "True",
        90.0,
    )


@pytest.mark.full_matrix(
    ci="a node component left down: ARCH-10's stopped kubelet"
)
@pytest.mark.disruptive
def test_a_kubelet_left_dead_after_a_crash_is_reported(
    faults, cluster, lab_check, ledger, restore
):
    for node in WORKERS:  # the check picks the worker that runs its pods
        faults.set_restart(node, "kubelet", False)
        restore.callback(restart_again, faults, cluster, node)

    with pytest.raises(GuaranteeViolated) as caught:
        check_kubelet_crash(lab_check, ledger)

    message = str(caught.value)
    assert message.startswith("kubelet killed on w"), message
    assert "no new kubelet process within 15s (never)" in message, message
    assert "does not restart it" in message, message
