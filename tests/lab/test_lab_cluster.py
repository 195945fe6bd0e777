"""A booted 3+2 lab is a real, highly available, isolated cluster."""

from __future__ import annotations

import pytest

from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.lab import network, sh
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.topology import BRIDGE
from gauntlet.observe.etcd import EtcdClient

pytestmark = pytest.mark.lab_only


def test_all_five_nodes_are_ready(cluster):
    nodes = cluster.core().list_node().items
    ready = sorted(n.metadata.name for n in nodes if workloads.node_is_ready(n))
    assert ready == ["cp1", "cp2", "cp3", "w1", "w2"]


def test_control_plane_nodes_are_labelled_and_tainted(cluster):
    for node in cluster.core().list_node().items:
        name = node.metadata.name
        is_cp = name.startswith("cp")
        labelled = workloads.CONTROL_PLANE_TAINT in (node.metadata.labels or {})
        tainted = any(
            t.key == workloads.CONTROL_PLANE_TAINT and t.effect == "NoSchedule"
            for t in node.spec.taints or []
        )
        assert labelled == is_cp, f"{name}: control-plane label {labelled}"
        assert tainted == is_cp, f"{name}: control-plane taint {tainted}"


def test_deployment_spreads_on_workers_and_serves_through_cluster_ip(
    cluster, test_namespace, images
):
    core, apps, ns = cluster.core(), cluster.apps(), test_namespace
    apps.create_namespaced_deployment(
        ns, workloads.web_deployment("web", images.workload, replicas=2)
    )
    core.create_namespaced_service(ns, workloads.cluster_ip_service("web"))
    workloads.wait_deployment_ready(apps, ns, "web")
    placed = sorted(
        p.spec.node_name for p in workloads.pods_of(core, ns, "web")
    )
    assert placed == ["w1", "w2"]

    core.create_namespaced_pod(
        ns,
        workloads.shell_pod(
            "client", images.workload, node_name="cp1", tolerate_all=True
        ),
    )
    workloads.wait_pod_running(core, ns, "client")
    ip = core.read_namespaced_service("web", ns).spec.cluster_ip
    answered = set()
    for _ in range(10):
        get = workloads.http_get_argv(ip, 80, workloads.NAME_PATH)
        res = exec_in_pod(core, ns, "client", get)
        assert res.returncode == 0, f"GET http://{ip}/ from cp1: {res.stderr}"
        answered.add(res.stdout.strip())
    pods = {p.metadata.name for p in workloads.pods_of(core, ns, "web")}
    assert answered <= pods and answered, f"answers {answered}, pods {pods}"

    res = exec_in_pod(
        core, ns, "client", ["nslookup", f"web.{ns}.svc.cluster.local"]
    )
    assert res.returncode == 0 and ip in res.stdout, res.stdout + res.stderr


def test_etcd_has_three_members_and_exactly_one_leader(etcd: EtcdClient):
    members = etcd.statuses()
    assert len(members) == 3
    assert sum(m.is_leader for m in members) == 1
    assert len({m.leader_id for m in members}) == 1


def test_a_pod_cannot_reach_outside_the_lab(cluster, test_namespace, images):
    core, ns = cluster.core(), test_namespace
    core.create_namespaced_pod(
        ns, workloads.shell_pod("leak", images.workload, node_name="w1")
    )
    workloads.wait_pod_running(core, ns, "leak")
    # TEST-NET-3: never routed; the packet must not even leave the node.
    connect = ["/agnhost", "connect", "--timeout=2s", "203.0.113.1:80"]
    res = exec_in_pod(core, ns, "leak", connect)
    assert res.returncode != 0
    assert "unreachable" in (res.stderr + res.stdout).lower()
    res = exec_in_pod(core, ns, "leak", ["nslookup", "example.com"])
    assert res.returncode != 0, "an external name resolved: upstream DNS leak"


def test_nodes_have_no_default_route_and_the_host_drops_lab_egress(
    lab: LabCluster,
):
    topo = lab.topology()
    assert topo is not None
    for node in topo.nodes:
        routes = sh.run(["ip", "-n", node.netns, "route"]).stdout
        assert "default" not in routes, f"{node.name} has a default route"
    rules = sh.run(["iptables", "-S", "FORWARD"]).stdout
    assert (
        f"-i {BRIDGE} ! -o {BRIDGE}" in rules and network.GUARD_COMMENT in rules
    )
    nat = sh.run(["iptables", "-t", "nat", "-S", "POSTROUTING"]).stdout
    assert BRIDGE not in nat and "10.250." not in nat, "NAT out of the lab"


def test_each_node_sees_only_its_own_processes(faults: LabNodeAccess):
    for node in ("cp1", "w1"):
        comms = {p.comm for p in faults.processes(node)}
        assert "kubelet" in comms
        has_apiserver = "kube-apiserver" in comms
        assert has_apiserver == node.startswith("cp"), f"{node}: {comms}"
    kubelet_conf = faults.read_file("w1", "/etc/kubernetes/kubelet.conf")
    assert "system:node:w1" in kubelet_conf, "w1 sees another /etc/kubernetes"
    assert "w1" in faults.exec("w1", ["hostname"]).stdout
