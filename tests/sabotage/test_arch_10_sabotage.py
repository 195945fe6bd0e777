"""ARCH-10 catches a node whose kubelet stopped: the failing container is
not restarted and the node's Lease goes stale."""

import re

import pytest
from arch_sabotage import restart_kubelet

from gauntlet.checks.arch.kubelet import (
    check_kubelet_runs_pods_and_reports,
    check_liveness_restarts,
    check_node_leases_renewed,
    start_failing_liveness_pod,
    watch_node_leases,
)
from gauntlet.errors import GuaranteeViolated


def test_stopped_kubelet_is_reported_by_probe_and_lease(
    faults, cluster, lab_check, restore
):
    with watch_node_leases(lab_check) as leases:
        # The first probe comes after the kubelet is stopped, or a restart
        # could happen (and be seen) before the sabotage.
        probed = start_failing_liveness_pod(lab_check, probe_delay_s=60)
        node = probed.node
        faults.stop(node, "kubelet")
        restore.callback(restart_kubelet, faults, cluster, node)

        with pytest.raises(GuaranteeViolated) as restart:
            check_liveness_restarts(lab_check, probed)
        with pytest.raises(GuaranteeViolated) as lease:
            check_node_leases_renewed(lab_check, leases)

    message = str(restart.value)
    assert f"{probed.name} on {node}: no restart" in message, message
    assert "restartCount 0" in message, message
    assert f"kubelet on {node}: node lease last renewed" in message, message
    message = str(lease.value)
    assert "kubelet heartbeats lag: " in message, message
    assert re.search(rf"\b{node}: \d+s without renewal", message), message

    restore.close()
    check_kubelet_runs_pods_and_reports(lab_check)
