"""ARCH-04 catches a master that lost its taint and runs an app pod."""

import pytest

from gauntlet.checks.arch.masters import check_masters_run_no_applications
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeViolated
from gauntlet.lab import sh


def test_untainted_master_running_an_app_pod_is_reported(
    lab, lab_check, restore
):
    kubectl = lab.kubectl()
    taint = f"{workloads.CONTROL_PLANE_TAINT}:NoSchedule"
    sh.run([*kubectl, "taint", "node", "cp1", f"{taint}-"])
    restore.callback(sh.run, [*kubectl, "taint", "node", "cp1", taint])
    core, ns = lab_check.cluster.core(), lab_check.namespace
    core.create_namespaced_pod(
        ns,
        workloads.shell_pod(
            "app-on-master", lab_check.images.workload, node_name="cp1"
        ),
    )
    restore.callback(
        core.delete_namespaced_pod, "app-on-master", ns, grace_period_seconds=0
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_masters_run_no_applications(lab_check)

    message = str(caught.value)
    assert "cp1" in message and "NoSchedule" in message, message
    assert f"{ns}/app-on-master on cp1" in message, message

    restore.close()
    check_masters_run_no_applications(lab_check)
