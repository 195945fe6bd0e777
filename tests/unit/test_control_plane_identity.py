"""ARCH-04 finds masters by what runs on them, not only by the label under
test; ARCH-14 sees every active scheduler, not only the Lease holder; a
found violation survives node access failing later (issue 10, defects 2,
4 and 8b)."""

from datetime import UTC, datetime, timedelta

import pytest
from arch_fakes import (
    FakeCore,
    FakeNodes,
    ImpossibleNodes,
    context,
    fake_cluster,
    pod,
    statuses,
    topology,
)
from kubernetes import client

from gauntlet.checks.arch import _instances, leases, masters
from gauntlet.checks.arch._instances import Instance
from gauntlet.errors import GuaranteeViolated

ROLE = "node-role.kubernetes.io/control-plane"
SCHEDULER = ["/opt/k8s/kube-scheduler", "--kubeconfig=/s.conf", "--v=1"]
ROGUE = [*SCHEDULER, "--leader-elect=false", "--secure-port=10261"]
MANAGER = ["/opt/k8s/kube-controller-manager", "--leader-elect=true"]


def node(name, role=True, taint=True):
    return client.V1Node(
        metadata=client.V1ObjectMeta(
            name=name, labels={ROLE: ""} if role else {}
        ),
        spec=client.V1NodeSpec(
            taints=[client.V1Taint(key=ROLE, effect="NoSchedule")]
            if taint
            else None
        ),
    )


# -- ARCH-04 ------------------------------------------------------------------


def test_a_master_stripped_of_label_and_taint_is_found_by_its_processes():
    nodes = [
        node("cp1"),
        node("cp3", role=False, taint=False),
        node("w1", False, False),
    ]
    found = masters.control_plane_nodes(
        nodes, [], {"cp3": ["kube-apiserver", "etcd"]}
    )
    assert found == {
        "cp1": [f"label {ROLE}"],
        "cp3": ["etcd process", "kube-apiserver process"],
    }
    assert masters.role_findings(nodes[1], found["cp3"]) == [
        f"cp3 (runs etcd process, kube-apiserver process) lacks the {ROLE} "
        "label",
        f"cp3 (runs etcd process, kube-apiserver process) has no "
        f"{ROLE}:NoSchedule taint",
    ]


def test_a_node_running_an_apiserver_or_etcd_static_pod_is_a_master():
    pods = [
        pod(
            "kube-apiserver-cp2", "cp2", labels={"component": "kube-apiserver"}
        ),
        pod("etcd-cp2", "cp2", labels={"component": "etcd"}),
        pod("coredns-1", "w1", labels={"k8s-app": "kube-dns"}),
    ]
    found = masters.control_plane_nodes([node("cp2", False, False)], pods, {})
    assert found == {"cp2": ["etcd pod", "kube-apiserver pod"]}


def test_a_kube_apiserver_in_a_pod_does_not_make_its_node_a_master(
    monkeypatch,
):
    """A hosted tenant control plane runs kube-apiserver in ordinary pods
    on workers; a static pod shows in kube-system instead."""
    tenant = "0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-1"
    nodes = FakeNodes(
        {"w1": [["/usr/local/bin/kube-apiserver"]], "cp1": [["/bin/etcd"]]},
        cgroups={("w1", 100): tenant},
    )
    ctx = context(nodes=nodes)
    assert masters._master_processes(ctx, ["cp1", "w1"]) == {"cp1": ["etcd"]}
    assert masters.in_container("12:pids:/kubepods/burstable/pod1/abc")
    assert not masters.in_container("0::/system.slice/etcd.service")


def test_the_suites_own_pods_are_not_applications():
    pods = [
        pod("app", "cp1", namespace="shop"),
        pod("probe", "cp1", namespace="kg-1a2b"),
        pod("helper", "cp1", namespace="kube-gauntlet-system"),
        pod("proxy", "cp1", namespace="kube-system"),
        pod("done", "cp1", namespace="shop", phase="Succeeded"),
        pod("web", "w1", namespace="shop"),
    ]
    own = {"kg-1a2b", "kube-gauntlet-system"}
    assert masters.application_pods(pods, {"cp1"}, own) == ["shop/app on cp1"]


def test_an_unlabelled_master_fails_arch04_naming_it(monkeypatch):
    monkeypatch.setattr(masters, "_plain_pods_avoid_masters", lambda *_a: None)
    core = FakeCore(nodes=[node("cp1"), node("cp3", False, False)])
    processes = {
        "cp1": [["/opt/k8s/kube-apiserver"]],
        "cp3": [["/opt/k8s/kube-apiserver"], ["/opt/etcd/etcd"]],
    }
    ctx = context(
        cluster=fake_cluster(core),
        topo=topology(("cp1", "cp3"), ()),
        nodes=FakeNodes(processes),
    )

    with pytest.raises(GuaranteeViolated) as caught:
        masters.check_masters_run_no_applications(ctx)

    message = str(caught.value)
    assert "cp3 (runs etcd process, kube-apiserver process) lacks" in message
    assert "cp1" not in message


# -- ARCH-14 ------------------------------------------------------------------


def test_leader_election_settings_come_from_flags_then_config_then_defaults():
    off = {"leaderElection": {"leaderElect": False, "resourceName": "mine"}}
    assert _instances.leader_election("kube-scheduler", SCHEDULER, None) == (
        True,
        "kube-scheduler",
    )
    assert _instances.leader_election("kube-scheduler", ROGUE, None)[0] is False
    assert _instances.leader_election("kube-scheduler", [], off) == (
        False,
        "mine",
    )
    flagged = ["--leader-elect=true", "--leader-elect-resource-name=x"]
    assert _instances.leader_election("kube-scheduler", flagged, off) == (
        True,
        "x",
    )


def instance(node, elected=True, lease="kube-scheduler", pid=1):
    return Instance(
        "kube-scheduler",
        node,
        f"kube-scheduler pid {pid} on {node}",
        elected,
        lease,
    )


def test_an_unelected_scheduler_beside_the_elected_ones_is_a_finding():
    found = _instances.active_findings(
        "kube-scheduler",
        [instance("cp1"), instance("cp2"), instance("cp1", False, pid=4242)],
    )
    assert found == [
        "kube-scheduler has 2 active instances: kube-scheduler pid 4242 on "
        "cp1 without leader election (--leader-elect=false), the leader of "
        "2 elected on cp1, cp2"
    ]


def test_elected_instances_and_other_elections_are_one_active_scheduler():
    assert not _instances.active_findings(
        "kube-scheduler",
        [instance("cp1"), instance("cp2"), instance("cp3", lease="second")],
    )
    assert not _instances.active_findings(
        "kube-scheduler", [instance("cp1", elected=False)]
    )
    two = [instance("cp1", False), instance("cp2", False, pid=2)]
    assert _instances.active_findings("kube-scheduler", two)


def test_a_lease_holder_without_an_elected_instance_on_its_node_is_a_finding():
    instances = [instance("cp1"), instance("cp2", False)]
    assert _instances.holder_findings(
        "kube-scheduler", "cp2_ab12", instances, {"cp1", "cp2"}
    ) == [
        "Lease kube-system/kube-scheduler holder cp2_ab12: no elected "
        "kube-scheduler runs on cp2"
    ]
    assert not _instances.holder_findings(
        "kube-scheduler", "cp1_ab12", instances, {"cp1", "cp2"}
    )
    assert not _instances.holder_findings(
        "kube-scheduler", "elsewhere_ab12", instances, {"cp1", "cp2"}
    )


def test_scheduler_pods_count_once_each_and_not_where_processes_were_read():
    pods = [
        pod("rogue", "w1", argv=ROGUE),
        pod(
            "kube-scheduler-cp1", "cp1", labels={"component": "kube-scheduler"}
        ),
        pod(
            "sidecar", "w1", labels={"component": "kube-scheduler"}, argv=["sh"]
        ),
        pod("dns", "w1", argv=["/coredns"]),
    ]
    found = _instances.pod_instances(pods, leases.COMPONENTS, {"cp1"})
    assert [(i.where, i.elected) for i in found] == [
        ("pod kube-system/rogue on w1", False),
        ("pod kube-system/sidecar on w1", True),
    ]


def watch(name, renewed=True):
    w = leases.LeaseWatch(name)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    w.observe("cp1_ab12", start, 0.0)
    if renewed:
        w.observe("cp1_ab12", start + timedelta(seconds=2), 2.0)
        w.observe("cp1_ab12", start + timedelta(seconds=4), 4.0)
    else:
        w.observe("cp1_ab12", start, 18.0)
    return w


def test_an_unrenewed_lease_fails_arch14_when_node_access_is_impossible(
    monkeypatch,
):
    monkeypatch.setattr(
        leases,
        "_observe",
        lambda _ctx: [
            watch("kube-scheduler", renewed=False),
            watch("kube-controller-manager"),
        ],
    )
    ctx = context(nodes=ImpossibleNodes())

    with pytest.raises(GuaranteeViolated) as caught:
        leases.check_one_active_leader_each(ctx)

    assert (
        "Lease kube-system/kube-scheduler held by cp1_ab12 was not renewed "
        "for 18s"
    ) in str(caught.value)
    assert statuses(ctx)["active instances"] == "unobserved"


def test_a_second_scheduler_without_leader_election_fails_arch14(monkeypatch):
    monkeypatch.setattr(
        leases,
        "_observe",
        lambda _ctx: [
            watch("kube-scheduler"),
            watch("kube-controller-manager"),
        ],
    )
    running = {
        "cp1": [SCHEDULER, MANAGER, ROGUE],
        "cp2": [SCHEDULER, MANAGER],
    }
    ctx = context(topo=topology(("cp1", "cp2"), ()), nodes=FakeNodes(running))

    with pytest.raises(GuaranteeViolated) as caught:
        leases.check_one_active_leader_each(ctx)

    message = str(caught.value)
    assert (
        "kube-scheduler has 2 active instances: kube-scheduler pid 102 on "
        in (message)
    )
    assert "cp1 without leader election (--leader-elect=false)" in message
    assert "kube-controller-manager" not in message


def test_without_node_access_or_scheduler_pods_the_instances_are_unobserved(
    monkeypatch,
):
    monkeypatch.setattr(
        leases,
        "_observe",
        lambda _ctx: [
            watch("kube-scheduler"),
            watch("kube-controller-manager"),
        ],
    )
    ctx = context(nodes=None)

    leases.check_one_active_leader_each(ctx)

    assert statuses(ctx) == {
        "kube-scheduler lease": "checked",
        "kube-controller-manager lease": "checked",
        "active instances": "unobserved",
    }
