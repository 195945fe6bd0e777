"""ARCH-06 catches pods that are never scheduled (no kube-scheduler)."""

import pytest
from arch_sabotage import stop_on_control_planes

from gauntlet.checks.arch.pod_flow import (
    check_pod_creation_flow,
    startup_pod_count,
)
from gauntlet.errors import GuaranteeViolated


def test_pods_without_a_running_scheduler_are_reported(
    faults, cluster, lab_check, restore
):
    stop_on_control_planes(faults, cluster, "kube-scheduler", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_pod_creation_flow(lab_check)

    message = str(caught.value)
    count = startup_pod_count()
    assert f"no Scheduled for {count} pods after 30s: " in message, message
    assert "kube-scheduler: no leader renewing" in message, message

    restore.close()
    check_pod_creation_flow(lab_check)
