"""ARCH-04 catches a master that lost its taint and runs an app pod, and a
master stripped of label and taint (found by what runs on it)."""

import secrets

import pytest
from front_sabotage import strip_control_plane_role
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.arch.masters import check_masters_run_no_applications
from gauntlet.checks.context import CheckContext
from gauntlet.cluster import workloads
from gauntlet.cluster.discovery import discover
from gauntlet.errors import GuaranteeViolated
from gauntlet.lab import sh

STRIPPED = "cp3"
ROLE = workloads.CONTROL_PLANE_TAINT


def application_namespace(core, restore):
    """A namespace of a user's application: not labelled with a run, so
    its pods count (the suite's own namespaces do not)."""
    name = f"kg-sabotage-app-{secrets.token_hex(3)}"
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    restore.callback(core.delete_namespace, name)
    workloads.ensure_service_account(core, name)
    return name


def wait_pod_gone(core, ns, name):
    """A deleted pod runs until its kubelet confirms: wait for that, so the
    check after the restore sees the master free again."""

    def gone():
        try:
            core.read_namespaced_pod(name, ns)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    progress.wait_until(f"pod {ns}/{name} gone", gone, 60, 0.5)


@pytest.mark.full_matrix(ci="the kubeadm lab's ARCH-04 sabotage")
def test_untainted_master_running_an_app_pod_is_reported(
    lab, lab_check, restore
):
    kubectl = lab.kubectl()
    taint = f"{ROLE}:NoSchedule"
    sh.run([*kubectl, "taint", "node", "cp1", f"{taint}-"])
    restore.callback(sh.run, [*kubectl, "taint", "node", "cp1", taint])
    core = lab_check.cluster.core()
    ns = application_namespace(core, restore)
    core.create_namespaced_pod(
        ns,
        workloads.shell_pod(
            "app-on-master", lab_check.images.workload, node_name="cp1"
        ),
    )
    restore.callback(wait_pod_gone, core, ns, "app-on-master")
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


def test_master_stripped_of_label_and_taint_is_found_by_its_processes(
    cluster, lab_check, restore
):
    strip_control_plane_role(cluster, STRIPPED, restore)
    ctx = CheckContext(
        cluster=cluster,
        topology=discover(cluster),
        namespace=lab_check.namespace,
        images=lab_check.images,
        nodes=lab_check.nodes,
    )
    assert STRIPPED not in {n.name for n in ctx.topology.control_planes}

    with pytest.raises(GuaranteeViolated) as caught:
        check_masters_run_no_applications(ctx)

    message = str(caught.value)
    runs = f"{STRIPPED} (runs etcd process, kube-apiserver process)"
    assert f"{runs} lacks the {ROLE} label" in message, message
    assert f"{runs} has no {ROLE}:NoSchedule taint" in message, message

    restore.close()
    check_masters_run_no_applications(lab_check)
