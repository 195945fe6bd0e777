"""The data-path ARCH checks judge honestly: pure judgements, no cluster.

Which link of the chain broke (ARCH-06/07/08/15), which nodes a
per-node check runs from (ARCH-09/16), zero samples as unobserved
(ARCH-05/06/10), and a part that does not apply by the cluster's shape
(ARCH-07/15) instead of a skip of the whole check.
"""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from kubernetes import client

from gauntlet.checks.arch import _placement
from gauntlet.checks.arch._chain import Chain, broken_link, chain_of
from gauntlet.checks.arch._nodes import (
    PATH_NODES_ENV,
    path_node_limit,
    record_left_out,
    sample_nodes,
)
from gauntlet.checks.arch._placement import (
    ANTI_AFFINITY,
    TAINTS,
    Placement,
    Plan,
    resource_problems,
    settled,
    shape_gaps,
    spread_problems,
    taint_problems,
)
from gauntlet.checks.arch.density import (
    check_pod_density_limits,
    low_limit_node,
)
from gauntlet.checks.arch.kubelet import lease_gaps
from gauntlet.checks.arch.pod_flow import startup_percentiles
from gauntlet.checks.arch.pod_network import neighbours, ring_order
from gauntlet.checks.arch.runtime import check_nodes_use_a_cri_runtime
from gauntlet.checks.arch.services import answers_text
from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.errors import UsageError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


# -- the chain: which link broke (defect 13) ---------------------------------


def test_a_deployment_without_replica_set_blames_the_deployment_controller():
    chain = Chain(wanted=2, pods=0, scheduled=0, done=0, replica_sets=0)
    link = broken_link(chain, "scheduled")
    assert link is not None
    assert link.component == "kube-controller-manager"
    assert link.text == "no ReplicaSet created by the Deployment controller"


def test_a_replica_set_without_pods_blames_the_replica_set_controller():
    chain = Chain(2, 0, 0, 0, replica_sets=1, rs_wanted=2)
    link = broken_link(chain, "scheduled")
    assert link is not None
    assert link.component == "kube-controller-manager"
    assert link.text == "no pod created by the ReplicaSet controller"


def test_pods_created_but_unbound_blame_the_scheduler():
    chain = Chain(2, 2, 1, 1, replica_sets=1, rs_wanted=2)
    link = broken_link(chain, "scheduled")
    assert link is not None
    assert link.component == "kube-scheduler"
    assert link.text == "pods created but not scheduled (1 of 2 bound)"


def test_scheduled_pods_not_ready_blame_the_kubelets_of_their_nodes():
    chain = Chain(2, 2, 2, 1, replica_sets=1, rs_wanted=2, waiting_on=("w2",))
    link = broken_link(chain, "ready")
    assert link is not None
    assert (link.component, link.nodes) == ("kubelet", ("w2",))
    assert link.text == "pods scheduled but not ready (1 of 2 ready)"


def test_an_unscaled_replica_set_blames_the_deployment_controller():
    chain = Chain(4, 2, 2, 2, replica_sets=1, rs_wanted=2)
    link = broken_link(chain, "ready")
    assert link is not None and "Deployment controller" in link.text


def test_surplus_pods_after_scale_down_blame_the_replica_set_controller():
    chain = Chain(1, 4, 4, 4, replica_sets=1, rs_wanted=1)
    link = broken_link(chain, "ready")
    assert link is not None
    assert "ReplicaSet controller did not remove 3" in link.text


def test_a_delivered_chain_blames_nobody():
    chain = Chain(2, 2, 2, 2, replica_sets=1, rs_wanted=2)
    assert broken_link(chain, "ready") is None
    assert broken_link(Chain(2, 2, 2, 0), "scheduled") is None


def pod(name, node=None, ready=False, terminating=False):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name, deletion_timestamp=NOW if terminating else None
        ),
        spec=client.V1PodSpec(containers=[], node_name=node),
        status=client.V1PodStatus(
            conditions=[
                client.V1PodCondition(
                    type="Ready", status="True" if ready else "False"
                )
            ]
        ),
    )


def replica_set(owner, replicas):
    ref = client.V1OwnerReference(
        api_version="apps/v1", kind="Deployment", name=owner, uid="u"
    )
    return client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name=f"{owner}-x", owner_references=[ref]),
        spec=client.V1ReplicaSetSpec(
            replicas=replicas, selector=client.V1LabelSelector()
        ),
    )


def test_the_chain_counts_live_pods_and_the_deployments_own_replica_sets():
    pods = [
        pod("a", "w1", ready=True),
        pod("b", "w2"),
        pod("c"),
        pod("d", "w1", ready=True, terminating=True),
    ]
    sets = [replica_set("web", 3), replica_set("other", 5)]
    chain = chain_of(3, pods, "ready", sets, "web")
    assert chain == Chain(
        wanted=3,
        pods=3,
        scheduled=2,
        done=1,
        replica_sets=1,
        rs_wanted=3,
        waiting_on=("w2",),
    )


# -- ARCH-07: placement judged per part --------------------------------------

NAMES = _placement.TestPods("p-oversized", "p-pinned", "p-tainted", "p-spread")


def plan(**changes):
    base = dict(
        request_m=5000,
        cpu_m=4000,
        biggest="w1",
        target="w2",
        tainted="cp1",
        taint="node-role.kubernetes.io/control-plane:NoSchedule",
        workers=("w1", "w2"),
        within_s=30.0,
    )
    return Plan(**{**base, **changes})


def test_a_shape_without_taints_or_two_workers_names_what_it_cannot_show():
    gaps = shape_gaps(plan(tainted=None, workers=("w1",)))
    assert set(gaps) == {TAINTS, ANTI_AFFINITY}
    assert "found 1" in gaps[ANTI_AFFINITY]


def test_a_pod_bound_to_a_node_whose_taint_it_does_not_tolerate_is_found():
    seen = Placement({"p-tainted": "w1"}, {}, {}, ())
    problems = taint_problems(seen, NAMES, plan(), "")
    assert problems == [
        "pod p-tainted pinned to cp1 without tolerating its taint "
        "node-role.kubernetes.io/control-plane:NoSchedule was bound to w1 "
        "with no Scheduled event from any scheduler"
    ]


def test_a_refusal_must_name_the_taint():
    refused = {
        "p-tainted": "0/5 nodes are available: 1 node(s) had "
        "untolerated taint {node-role.kubernetes.io/control-plane: }"
    }
    assert (
        taint_problems(Placement({}, refused, {}, ()), NAMES, plan(), "") == []
    )
    silent = {"p-tainted": "0/5 nodes are available"}
    assert taint_problems(Placement({}, silent, {}, ()), NAMES, plan(), "")


def test_a_pod_never_decided_names_the_scheduler_lease_not_a_misplacement():
    problems = resource_problems(
        Placement({}, {}, {}, ()), NAMES, plan(), "kube-scheduler: no leader"
    )
    assert problems == [
        "pod p-oversized neither bound nor refused with FailedScheduling "
        "within 30s: kube-scheduler: no leader"
    ]


def test_placement_settles_without_the_parts_the_shape_rules_out():
    seen = Placement({}, {"p-oversized": "Insufficient cpu"}, {}, ())
    assert not settled(seen, NAMES, plan())
    shape = plan(target=None, tainted=None, workers=())
    assert settled(seen, NAMES, shape)


def test_replicas_sharing_a_node_are_found():
    seen = Placement(
        {"p-spread-a": "w1", "p-spread-b": "w1"},
        {},
        {"p-spread-a": "default-scheduler"},
        ("p-spread-a", "p-spread-b"),
    )
    (problem,) = spread_problems(seen, NAMES, plan(), "")
    assert problem.startswith("anti-affinity replicas share a node: ")


# -- ARCH-09 and ARCH-16: run from every node (defect 12) --------------------


def node(name, ready=True):
    return client.V1Node(
        metadata=client.V1ObjectMeta(name=name),
        status=client.V1NodeStatus(
            conditions=[
                client.V1NodeCondition(
                    type="Ready", status="True" if ready else "False"
                )
            ]
        ),
    )


def test_every_ready_node_runs_a_client_control_planes_and_workers_alike():
    nodes = [node("cp1"), node("cp2"), node("w1"), node("w2", ready=False)]
    sample = sample_nodes(nodes, 16)
    assert sample.chosen == ("cp1", "cp2", "w1")
    assert sample.not_ready == ("w2",)
    assert sample.left_out == ()


def test_a_sample_is_spread_and_the_nodes_left_out_are_named():
    nodes = [node(f"n{i:02}") for i in range(10)]
    sample = sample_nodes(nodes, 4)
    assert len(sample.chosen) == 4
    assert set(sample.chosen) | set(sample.left_out) == {
        f"n{i:02}" for i in range(10)
    }
    ctx = context()
    record_left_out(ctx, "path", sample)
    (part,) = ctx.parts
    assert part.status == "unobserved"
    assert "sampled 4 of 10 Ready nodes" in part.reason
    assert sample.left_out[0] in part.reason


def test_a_not_ready_node_is_an_unobserved_part_by_name():
    ctx = context()
    record_left_out(ctx, "path", sample_nodes([node("w1", ready=False)], 4))
    assert [(p.status, p.reason) for p in ctx.parts] == [
        ("unobserved", "not Ready: w1")
    ]


def test_the_path_node_limit_reads_the_environment(monkeypatch):
    monkeypatch.delenv(PATH_NODES_ENV, raising=False)
    assert path_node_limit() == 16
    monkeypatch.setenv(PATH_NODES_ENV, "3")
    assert path_node_limit() == 3
    monkeypatch.setenv(PATH_NODES_ENV, "none")
    with pytest.raises(UsageError):
        path_node_limit()


def test_the_pod_network_ring_calls_worker_to_worker_both_ways():
    ring = ring_order(("cp1", "cp2", "w1", "w2"), ["w1", "w2"])
    assert ring == ["w1", "w2", "cp1", "cp2"]
    assert neighbours(ring, 0) == ["w2", "cp2"]
    assert neighbours(ring, 1) == ["cp1", "w1"]
    assert neighbours(["w1", "w2"], 0) == ["w2"]
    assert neighbours(["w1"], 0) == []


def test_answers_name_the_unexpected_backend_and_its_node():
    from collections import Counter

    text = answers_text(
        {"b-1": "w1", "b-2": "w2"}, Counter({"b-1": 12, "b-2": 8}), {"b-2"}
    )
    assert text == "b-1 on w1: 12/20 (unexpected), b-2 on w2: 8/20"
    assert answers_text({}, Counter(), {"b-1"}) == "never answered: b-1"


# -- zero samples are unobserved ---------------------------------------------


def test_no_started_pod_is_no_startup_latency():
    with pytest.raises(CheckSkipped, match="no pod started"):
        startup_percentiles([], 10)


def test_a_p99_without_the_pods_that_never_started_is_unobserved():
    with pytest.raises(CheckSkipped, match="only 3 of 10 pods started"):
        startup_percentiles([0.5, 0.6, 0.7], 10)
    assert startup_percentiles([1.0, 2.0], 2) == (1.0, 2.0)


def test_no_node_to_watch_is_no_evidence_of_lease_renewals():
    with pytest.raises(CheckSkipped):
        lease_gaps({}, NOW)


def test_lease_gaps_count_the_time_since_the_last_renewal():
    renewals = {
        "w1": [NOW - timedelta(seconds=20), NOW - timedelta(seconds=10)],
        "w2": [NOW - timedelta(seconds=40)],
        "w3": [],
    }
    gaps, late = lease_gaps(renewals, NOW)
    assert gaps == {"w1": 10.0, "w2": 40.0}
    assert late == [
        "w2: 40s without renewal",
        "w3: no Lease in kube-node-lease",
    ]


def context(nodes=()):
    core = SimpleNamespace(list_node=lambda: SimpleNamespace(items=nodes))
    return CheckContext(
        cluster=SimpleNamespace(core=lambda: core),
        topology=None,
        namespace="kg-test",
        images=Images("busybox"),
    )


def test_a_cluster_listing_no_node_does_not_pass_the_runtime_check():
    ctx = context()
    with pytest.raises(CheckSkipped, match="no node listed"):
        check_nodes_use_a_cri_runtime(ctx)
    assert [p.status for p in ctx.parts] == ["unobserved"]


# -- ARCH-15: a limit too high to fill does not apply ------------------------


def allocatable(name, pods):
    return client.V1Node(
        metadata=client.V1ObjectMeta(name=name),
        status=client.V1NodeStatus(allocatable={"pods": str(pods)}),
    )


def test_without_a_low_pod_limit_the_check_reports_and_does_not_skip():
    ctx = context([allocatable("w1", 110), allocatable("w2", 110)])
    check_pod_density_limits(ctx)  # passes: nothing to fill, by design
    statuses = {p.name: (p.status, p.reason) for p in ctx.parts}
    assert statuses["allocatable pods reported"] == ("checked", "")
    status, reason = statuses["low pod limit enforced"]
    assert status == "not-applicable"
    assert "smallest: 110 pods on w1" in reason
    assert ctx.measured["allocatable pods w2"] == 110


def test_a_node_reporting_no_allocatable_pods_is_a_finding():
    ctx = context([allocatable("w1", 0), allocatable("w2", 110)])
    with pytest.raises(AssertionError, match="w1 reports no allocatable pods"):
        check_pod_density_limits(ctx)


def test_the_lowest_positive_limit_is_filled_only_when_low():
    assert low_limit_node({"w1": 110, "w2": 5}) == ("w2", 5)
    assert low_limit_node({"w1": 110}) is None
    assert low_limit_node({"w1": 0}) is None
