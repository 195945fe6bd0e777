"""ARCH-03 catches a control-plane node whose scheduler is stopped."""

import pytest
from arch_sabotage import fresh

from gauntlet.checks.arch.completeness import check_control_plane_is_complete
from gauntlet.errors import GuaranteeViolated


def test_stopped_scheduler_is_reported(faults, lab_check, restore):
    faults.stop("cp2", "kube-scheduler")
    restore.callback(faults.start, "cp2", "kube-scheduler")

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_is_complete(lab_check)

    message = str(caught.value)
    assert "cp2: kube-scheduler is not running" in message, message
    parts = {p.name: p.status for p in lab_check.parts}
    assert parts["kube-scheduler"] == "violated", parts
    assert parts["kube-apiserver"] == "checked", parts
    assert parts["kube-proxy"] == "checked", parts

    restore.close()
    check_control_plane_is_complete(fresh(lab_check))
