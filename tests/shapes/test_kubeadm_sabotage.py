"""On a kubeadm cluster, met by kubeconfig and the pod backend, the checks
catch what an operator breaks in the static pods and on the nodes, name
the static pod or node, and pass again after the restore."""

from __future__ import annotations

import pytest
from etcd_sabotage import add_unstarted_member, fresh_check
from kubernetes import client
from static_pods import park, set_flags
from test_arch_02_sabotage import bind_anonymous_cluster_admin
from test_arch_04_sabotage import application_namespace, wait_pod_gone

from gauntlet.checks.arch.etcd_access import check_only_apiserver_talks_to_etcd
from gauntlet.checks.arch.front_door import check_api_server_is_the_front_door
from gauntlet.checks.arch.ha import check_control_plane_is_highly_available
from gauntlet.checks.arch.leases import check_one_active_leader_each
from gauntlet.checks.arch.masters import check_masters_run_no_applications
from gauntlet.checks.chaos.nodes import check_kubelet_stop
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeViolated

FLAVOR = "kubeadm"
MASTERS = ["cp1", "cp2", "cp3"]


def test_etcd_accepting_certless_clients_is_named(
    shaped_lab, shaped_cluster, shaped_check, restore
):
    set_flags(
        shaped_lab,
        shaped_cluster,
        "cp2",
        "etcd",
        {"client-cert-auth": "false", "trusted-ca-file": None},
        restore,
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_only_apiserver_talks_to_etcd(fresh_check(shaped_check))

    message = str(caught.value)
    assert "cp2 (https://10.250.0.12:2379) answered no certificate" in (
        message
    ), message

    restore.close()
    check_only_apiserver_talks_to_etcd(fresh_check(shaped_check))


def test_anonymous_cluster_admin_is_named_per_api_server(
    shaped_cluster, shaped_check, restore
):
    bind_anonymous_cluster_admin(shaped_cluster, shaped_check, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_api_server_is_the_front_door(fresh_check(shaped_check))

    message = str(caught.value)
    assert "anonymous" in message, message
    for node in MASTERS:
        assert node in message, message

    restore.close()
    check_api_server_is_the_front_door(fresh_check(shaped_check))


def test_an_untainted_master_running_an_app_is_named(
    shaped_cluster, shaped_check, restore
):
    core = shaped_cluster.core()
    taint = client.V1Taint(
        key=workloads.CONTROL_PLANE_TAINT, effect="NoSchedule"
    )
    core.patch_node("cp1", {"spec": {"taints": []}})
    restore.callback(
        core.patch_node, "cp1", {"spec": {"taints": [taint.to_dict()]}}
    )
    ns = application_namespace(core, restore)
    pod = workloads.shell_pod(
        "app-on-master", shaped_check.images.workload, node_name="cp1"
    )
    core.create_namespaced_pod(ns, pod)
    restore.callback(wait_pod_gone, core, ns, "app-on-master")
    restore.callback(
        core.delete_namespaced_pod, "app-on-master", ns, grace_period_seconds=0
    )

    with pytest.raises(GuaranteeViolated) as caught:
        check_masters_run_no_applications(fresh_check(shaped_check))

    message = str(caught.value)
    assert "cp1" in message and "NoSchedule" in message, message
    assert f"{ns}/app-on-master on cp1" in message, message

    restore.close()
    check_masters_run_no_applications(fresh_check(shaped_check))


def test_an_even_etcd_membership_is_named(shaped_etcd, shaped_check, restore):
    member_id = add_unstarted_member(shaped_etcd, restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_is_highly_available(fresh_check(shaped_check))

    message = str(caught.value)
    assert "etcd has an even number of voting members (4:" in message, message
    assert member_id in message, message

    restore.close()
    check_control_plane_is_highly_available(fresh_check(shaped_check))


def test_a_scheduler_lease_nobody_renews_is_named(
    shaped_lab, shaped_cluster, shaped_check, restore
):
    park(shaped_lab, shaped_cluster, MASTERS, "kube-scheduler", restore)

    with pytest.raises(GuaranteeViolated) as caught:
        check_one_active_leader_each(fresh_check(shaped_check))

    message = str(caught.value)
    lease = "Lease kube-system/kube-scheduler"
    assert (
        f"{lease} held by cp" in message or f"{lease} has no holder" in message
    ), message
    assert "was not renewed" in message or "no holder" in message, message

    restore.close()
    check_one_active_leader_each(fresh_check(shaped_check))


@pytest.mark.full_matrix(
    ci="a recovery slower than its bound: RES-04's slow election"
)
@pytest.mark.disruptive
def test_a_node_that_stays_ready_too_long_is_named(
    shaped_lab, shaped_cluster, shaped_check, shaped_ledger, restore
):
    for node in MASTERS:
        set_flags(
            shaped_lab,
            shaped_cluster,
            node,
            "kube-controller-manager",
            {"node-monitor-grace-period": "90s"},
            restore,
        )

    with pytest.raises(GuaranteeViolated) as caught:
        check_kubelet_stop(fresh_check(shaped_check), shaped_ledger)

    message = str(caught.value)
    assert message.startswith("kubelet stopped on w"), message
    assert "went NotReady only after" in message, message
