"""RES-10 catches workers that cannot join again: kubelets started with
``--register-node=false`` never recreate their Node."""

import re

import pytest
from arch_sabotage import wait_node_ready

from gauntlet.checks.chaos.maintenance import check_leave_and_join
from gauntlet.errors import GuaranteeViolated

WORKERS = ("w1", "w2")
ROLE = {"node-role.kubernetes.io/worker": ""}


def rejoin(faults, cluster, node, argv):
    faults.set_argv(node, "kubelet", argv)
    wait_node_ready(cluster, node)
    cluster.core().patch_node(node, {"metadata": {"labels": ROLE}})


@pytest.mark.disruptive
def test_a_worker_that_never_registers_again_is_reported(
    faults, cluster, lab_check, ledger, restore
):
    for node in WORKERS:  # the check picks the worker to remove
        old = faults.set_flags(node, "kubelet", {"register-node": "false"})
        restore.callback(rejoin, faults, cluster, node, old)
        wait_node_ready(cluster, node)

    with pytest.raises(GuaranteeViolated) as caught:
        check_leave_and_join(lab_check, ledger, register_timeout_s=20)

    message = str(caught.value)
    assert re.match(r"w[12] left and joined: ", message), message
    waited = "registered and Ready after its kubelet's start: not reached"
    assert waited in message, message
    assert "within 20s (last observed: no Node object)" in message, message
