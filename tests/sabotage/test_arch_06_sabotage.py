"""ARCH-06 catches pods that are never scheduled (no kube-scheduler), and
blames the scheduler: the pods were created, the next link broke."""

import pytest
from arch_sabotage import fresh, stop_on_control_planes

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
    assert (
        f"pods created but not scheduled (0 of {count} bound) within 30s: "
        in message
    ), message
    assert "kube-scheduler: no leader renewing" in message, message
    parts = {p.name: p.status for p in lab_check.parts}
    assert parts == {
        "pods scheduled and started": "violated",
        "startup latency": "unobserved",
        "flow order": "unobserved",
    }, parts

    restore.close()
    check_pod_creation_flow(fresh(lab_check))
