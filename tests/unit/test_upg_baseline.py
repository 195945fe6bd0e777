"""UPG-05: what a healthy baseline holds, how it is saved and read back,
and what counts as a change after the upgrade."""

import json

import pytest
from kubernetes import client as k

from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.checks.upg._baseline_data import (
    LATENCY,
    NODES,
    RESTARTS,
    WORKLOADS,
    Baseline,
    BaselineError,
    Latency,
    LatencyBound,
    PodState,
    Snapshot,
    compare,
    coverage,
    load_baseline,
)
from gauntlet.checks.upg._owners import deployments_of_replicasets
from gauntlet.checks.upg._snapshot import pod_state
from gauntlet.checks.upg.baseline import gate_parts
from gauntlet.errors import GuaranteeViolated
from gauntlet.reporting.parts import PartResult

DNS = "Deployment kube-system/coredns"


def pod(name, uid, workload=DNS, node="w1", ready=True, **restarts):
    return PodState(
        namespace="kube-system",
        name=name,
        uid=uid,
        node=node,
        workload=workload,
        ready=ready,
        restarts=restarts or {"c": 0},
    )


def snap(pods=(), nodes=None, p99=20.0, p50=5.0):
    return Snapshot(
        taken="2026-01-01T00:00:00+00:00",
        server="v1.36.3",
        pods=tuple(pods),
        nodes={"cp1": True, "w1": True} if nodes is None else nodes,
        latency=Latency(samples=30, p50_ms=p50, p99_ms=p99),
    )


# --- compare --------------------------------------------------------------


def test_an_unchanged_cluster_has_no_change():
    before = snap([pod("coredns-a", "u1"), pod("coredns-b", "u2")])
    assert compare(before, before) == []


def test_a_new_restart_of_a_pod_that_kept_its_uid_is_a_change():
    before = snap([pod("coredns-a", "u1", c=1)])
    after = snap([pod("coredns-a", "u1", c=3)])
    [change] = compare(before, after)
    assert change.part == RESTARTS
    assert change.text == (
        "pod kube-system/coredns-a on node w1: container c restarted 2 "
        "time(s) since the baseline (1 -> 3)"
    )


def test_a_recreated_pod_starts_its_restarts_afresh():
    before = snap([pod("coredns-a", "u1", c=5)])
    after = snap([pod("coredns-x", "u9", node="w2", c=0)])
    assert compare(before, after) == []
    assert coverage(before, after)[RESTARTS] == 0


def test_pods_are_matched_by_workload_since_a_drain_renames_them():
    before = snap([pod("coredns-a", "u1"), pod("coredns-b", "u2")])
    after = snap([pod("coredns-c", "u3"), pod("coredns-d", "u4")])
    assert compare(before, after) == []


def test_a_workload_short_of_ready_pods_is_not_back():
    before = snap([pod("coredns-a", "u1"), pod("coredns-b", "u2")])
    after = snap([pod("coredns-a", "u1"), pod("coredns-c", "u3", ready=False)])
    [change] = compare(before, after)
    assert change.part == WORKLOADS
    assert change.text == (
        "Deployment kube-system/coredns has 1 ready pod(s), 2 ready at the "
        "baseline"
    )


def test_a_workload_without_any_pod_left_says_so():
    gone = "StatefulSet shop/db"
    before = snap([pod("db-0", "u1", workload=gone)])
    [change] = compare(before, snap([]))
    assert change.text == f"{gone} has no pod, 1 ready at the baseline"


def test_a_workload_unready_at_the_baseline_is_not_expected_back():
    before = snap([pod("job-x", "u1", workload="Job shop/x", ready=False)])
    assert compare(before, snap([])) == []


def test_more_ready_pods_than_before_is_no_change():
    before = snap([pod("coredns-a", "u1")])
    after = snap([pod("coredns-a", "u1"), pod("coredns-b", "u2")])
    assert compare(before, after) == []


def test_a_node_ready_before_and_not_now_or_gone_is_a_change():
    before = snap(nodes={"cp1": True, "w1": True, "w2": True, "w3": False})
    after = snap(nodes={"cp1": True, "w1": False, "w3": False})
    assert [(c.part, c.text) for c in compare(before, after)] == [
        (NODES, "node w1 was Ready at the baseline and is not Ready now"),
        (NODES, "node w2 was Ready at the baseline and is gone"),
    ]


def test_latency_is_a_change_only_past_both_twice_and_100_ms_more():
    bound = LatencyBound()
    assert bound.allowed_ms(20.0) == 120.0  # fast cluster: +100 ms rules
    assert bound.allowed_ms(300.0) == 600.0  # slow cluster: 2x rules
    assert compare(snap(p99=20.0), snap(p99=120.0)) == []
    [change] = compare(snap(p99=20.0), snap(p99=121.0))
    assert change.part == LATENCY
    assert change.text == (
        "API latency p99 121 ms, 20 ms at the baseline (bound 120 ms: 2x "
        "and +100 ms)"
    )


def test_coverage_says_what_each_part_compared():
    before = snap(
        [pod("a", "u1"), pod("b", "u2"), pod("j", "u3", "Job x/j", ready=0)],
        nodes={"cp1": True, "w1": False},
    )
    after = snap([pod("a", "u1")])
    assert coverage(before, after) == {
        RESTARTS: 1,
        WORKLOADS: 1,
        NODES: 1,
        LATENCY: 30,
    }


# --- baseline.json --------------------------------------------------------


def baseline():
    gate = (
        PartResult("ARCH-11 etcd members", "checked"),
        PartResult(
            "ARCH-12 API server health",
            "violated",
            findings=("ARCH-12: kube-apiserver on cp2 /readyz answered 500",),
        ),
    )
    return Baseline(snap([pod("coredns-a", "u1", c=2, sidecar=1)]), gate)


def test_a_baseline_reads_back_as_it_was_written(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(baseline().to_json())
    assert load_baseline(path) == baseline()


def test_the_file_says_whether_the_gate_was_green():
    data = json.loads(baseline().to_json())
    assert data["schema"] == "kube-gauntlet/baseline"
    assert data["version"] == 1
    assert data["green"] is False
    assert data["gate"][1]["status"] == "violated"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"schema": "other"}', "schema 'other', not 'kube-gauntlet/baseline'"),
        (
            '{"schema": "kube-gauntlet/baseline", "version": 9}',
            "schema version 9; this kube-gauntlet reads version 1",
        ),
        (
            '{"schema": "kube-gauntlet/baseline", "version": 1}',
            "missing field 'latency'",
        ),
    ],
)
def test_a_bad_file_is_a_clear_error_saying_how_to_pass_one(
    tmp_path, text, why
):
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(BaselineError) as caught:
        load_baseline(path)
    message = str(caught.value)
    assert message.startswith(f"baseline {path}: ")
    assert why in message
    assert message.endswith("--baseline reports/<run id>/baseline.json")


def test_a_field_of_the_wrong_type_is_named(tmp_path):
    data = json.loads(baseline().to_json())
    data["pods"][0]["ready"] = "yes"
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match="pod ready is not true or false"):
        load_baseline(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(BaselineError, match="No such file or directory"):
        load_baseline(tmp_path / "nowhere.json")


# --- the snapshot of one pod ----------------------------------------------


def test_a_pod_is_recorded_with_its_deployment_readiness_and_restarts():
    rs = k.V1ReplicaSet(
        metadata=k.V1ObjectMeta(
            name="coredns-7d",
            namespace="kube-system",
            owner_references=[
                k.V1OwnerReference(
                    api_version="apps/v1",
                    kind="Deployment",
                    name="coredns",
                    uid="d",
                    controller=True,
                )
            ],
        ),
        spec=k.V1ReplicaSetSpec(selector=k.V1LabelSelector()),
    )
    raw = k.V1Pod(
        metadata=k.V1ObjectMeta(
            name="coredns-7d-x",
            namespace="kube-system",
            uid="u1",
            owner_references=[
                k.V1OwnerReference(
                    api_version="apps/v1",
                    kind="ReplicaSet",
                    name="coredns-7d",
                    uid="r",
                    controller=True,
                )
            ],
        ),
        spec=k.V1PodSpec(containers=[], node_name="w2"),
        status=k.V1PodStatus(
            conditions=[k.V1PodCondition(type="Ready", status="True")],
            container_statuses=[
                k.V1ContainerStatus(
                    name="coredns",
                    restart_count=3,
                    image="i",
                    image_id="",
                    ready=True,
                )
            ],
        ),
    )
    state = pod_state(raw, deployments_of_replicasets([rs]))
    assert state == PodState(
        namespace="kube-system",
        name="coredns-7d-x",
        uid="u1",
        node="w2",
        workload="Deployment kube-system/coredns",
        ready=True,
        restarts={"coredns": 3},
    )


def test_a_static_pod_is_its_own_workload_by_name():
    raw = k.V1Pod(
        metadata=k.V1ObjectMeta(
            name="etcd-cp1",
            namespace="kube-system",
            uid="u",
            annotations={"kubernetes.io/config.mirror": "h"},
        ),
        spec=k.V1PodSpec(containers=[], node_name="cp1"),
    )
    assert pod_state(raw, {}).workload == "static kube-system/etcd-cp1"


# --- the gate's parts become the baseline's -------------------------------


def context(parts):
    return CheckContext(
        cluster=None,
        topology=None,
        namespace="",
        images=Images("busybox"),
        record_part=parts.append,
    )


def violating(ctx):
    with ctx.part("etcd members") as part:
        part.finding("etcd has 2 voting members")
    ctx.conclude("ha")


def unobservable(ctx):
    with ctx.part("WAL fsync p99"):
        raise CheckSkipped("no node access")
    ctx.conclude("etcd health")


def passing(ctx):
    with ctx.part("kube-scheduler lease"):
        pass
    ctx.conclude("leases")


def skipping_outside_its_parts(ctx):
    with ctx.part("API server health"):
        pass
    raise CheckSkipped("endpoints hidden")


def test_a_violation_in_one_gate_check_is_not_hidden_by_a_skip_in_another():
    recorded = []
    ctx = context(recorded)
    gate = (
        ("ARCH-11", violating),
        ("ARCH-13", unobservable),
        ("ARCH-14", passing),
    )
    parts = gate_parts(ctx, gate)
    assert [(p.name, p.status) for p in parts] == [
        ("ARCH-11 etcd members", "violated"),
        ("ARCH-13 WAL fsync p99", "unobserved"),
        ("ARCH-14 kube-scheduler lease", "checked"),
    ]
    assert parts[0].findings == ("ARCH-11: etcd has 2 voting members",)
    assert recorded == parts == ctx.parts
    with pytest.raises(GuaranteeViolated, match="ARCH-11: etcd has 2 voting"):
        ctx.conclude("the baseline is green")


def test_what_a_gate_check_raises_outside_its_parts_is_kept():
    ctx = context([])
    parts = gate_parts(ctx, (("ARCH-12", skipping_outside_its_parts),))
    assert [(p.name, p.status, p.reason) for p in parts] == [
        ("ARCH-12 API server health", "checked", ""),
        ("ARCH-12 check", "unobserved", "endpoints hidden"),
    ]


def test_a_gate_that_sees_nothing_skips_the_baseline():
    ctx = context([])
    gate_parts(ctx, (("ARCH-13", unobservable),))
    with pytest.raises(CheckSkipped, match="ARCH-13 WAL fsync p99"):
        ctx.conclude("the baseline is green")
