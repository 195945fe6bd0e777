"""UPG-04: what stops ``kubectl drain``, classified from the objects the
API lists, and how a refused dry-run eviction is read."""

from kubernetes import client as k

from gauntlet.checks.upg._drain_blockers import (
    BARE,
    BUDGETS,
    LOCAL,
    SINGLE,
    ClusterObjects,
    PodRef,
    classify,
    selects,
)
from gauntlet.checks.upg.drain import (
    Refusal,
    going_with_namespace,
    refusal_findings,
    refusal_reason,
)
from gauntlet.wellknown import RUN_LABEL

NS = "shop"


def owner(kind, name, controller=True):
    return k.V1OwnerReference(
        api_version="v1", kind=kind, name=name, uid="u", controller=controller
    )


def pod(
    name,
    node="w1",
    owned_by=("ReplicaSet", "web-5d8f"),
    labels=None,
    namespace=NS,
    volumes=None,
    phase="Running",
    annotations=None,
):
    refs = [owner(*owned_by)] if owned_by else None
    return k.V1Pod(
        metadata=k.V1ObjectMeta(
            name=name,
            namespace=namespace,
            labels=labels if labels is not None else {"app": "web"},
            owner_references=refs,
            annotations=annotations,
        ),
        spec=k.V1PodSpec(containers=[], node_name=node, volumes=volumes),
        status=k.V1PodStatus(phase=phase),
    )


def budget(name, allowed, match=None, namespace=NS, healthy=2, desired=2):
    return k.V1PodDisruptionBudget(
        metadata=k.V1ObjectMeta(name=name, namespace=namespace),
        spec=k.V1PodDisruptionBudgetSpec(
            selector=k.V1LabelSelector(match_labels=match or {"app": "web"})
        ),
        status=k.V1PodDisruptionBudgetStatus(
            disruptions_allowed=allowed,
            current_healthy=healthy,
            desired_healthy=desired,
            expected_pods=2,
        ),
    )


def replicaset(name, deployment, namespace=NS):
    return k.V1ReplicaSet(
        metadata=k.V1ObjectMeta(
            name=name,
            namespace=namespace,
            owner_references=[owner("Deployment", deployment)],
        ),
        spec=k.V1ReplicaSetSpec(selector=k.V1LabelSelector()),
    )


def deployment(name, replicas, labels=None, namespace=NS):
    template = k.V1PodTemplateSpec(
        metadata=k.V1ObjectMeta(labels=labels or {"app": name})
    )
    return k.V1Deployment(
        metadata=k.V1ObjectMeta(name=name, namespace=namespace),
        spec=k.V1DeploymentSpec(
            replicas=replicas,
            selector=k.V1LabelSelector(match_labels=labels or {"app": name}),
            template=template,
        ),
    )


def claim_volume(volume, claim):
    return k.V1Volume(
        name=volume,
        persistent_volume_claim=k.V1PersistentVolumeClaimVolumeSource(
            claim_name=claim
        ),
    )


def claim(name, bound_to, namespace=NS):
    return k.V1PersistentVolumeClaim(
        metadata=k.V1ObjectMeta(name=name, namespace=namespace),
        spec=k.V1PersistentVolumeClaimSpec(volume_name=bound_to),
    )


def volume(name, local=None, host_path=None):
    return k.V1PersistentVolume(
        metadata=k.V1ObjectMeta(name=name),
        spec=k.V1PersistentVolumeSpec(
            local=k.V1LocalVolumeSource(path=local) if local else None,
            host_path=k.V1HostPathVolumeSource(path=host_path)
            if host_path
            else None,
        ),
    )


def texts(plan, kind):
    return [b.text for b in plan.of_kind(kind)]


# --- what a drain would evict ---------------------------------------------


def test_a_drain_evicts_controlled_and_bare_pods_on_a_node():
    plan = classify(
        ClusterObjects(pods=[pod("web-1"), pod("lone", owned_by=None)])
    )
    assert plan.evicted == (
        PodRef(NS, "web-1", "w1"),
        PodRef(NS, "lone", "w1"),
    )


def test_daemonset_static_finished_terminating_and_unscheduled_pods_stay():
    leaving = pod("old-1")
    leaving.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    plan = classify(
        ClusterObjects(
            pods=[
                pod("proxy-x", owned_by=("DaemonSet", "proxy")),
                pod(
                    "etcd-cp1",
                    owned_by=("Node", "cp1"),
                    annotations={"kubernetes.io/config.mirror": "abc"},
                ),
                pod("job-1", owned_by=("Job", "j"), phase="Succeeded"),
                pod("pending", node=None),
                leaving,
            ]
        )
    )
    assert plan.evicted == ()
    assert plan.blockers == ()


def test_what_a_gauntlet_run_made_is_left_out():
    ours = k.V1Namespace(
        metadata=k.V1ObjectMeta(name="kg-abc", labels={RUN_LABEL: "r1"})
    )
    helper = pod(
        "kg-node-w1",
        owned_by=None,
        namespace="kube-gauntlet-system",
        labels={RUN_LABEL: "r1"},
    )
    plan = classify(
        ClusterObjects(
            pods=[pod("t", owned_by=None, namespace="kg-abc"), helper],
            budgets=[budget("strict", 0, namespace="kg-abc")],
            namespaces=[ours],
        )
    )
    assert plan.evicted == ()
    assert plan.blockers == ()
    assert plan.ignored == 2


# --- disruption budgets ---------------------------------------------------


def test_a_budget_allowing_no_disruption_names_itself_and_its_pods():
    plan = classify(
        ClusterObjects(
            pods=[pod("web-1", node="w1"), pod("web-2", node="w2")],
            budgets=[budget("web-pdb", 0)],
        )
    )
    assert texts(plan, BUDGETS) == [
        "PodDisruptionBudget shop/web-pdb allows no disruption "
        "(2 healthy, 2 required): it blocks evicting shop/web-1 on node w1, "
        "shop/web-2 on node w2"
    ]


def test_a_budget_that_allows_a_disruption_blocks_nothing():
    plan = classify(
        ClusterObjects(pods=[pod("web-1")], budgets=[budget("web-pdb", 1)])
    )
    assert plan.blockers == ()


def test_a_budget_over_no_evicted_pod_blocks_nothing():
    plan = classify(
        ClusterObjects(
            pods=[pod("web-1")],
            budgets=[
                budget("other", 0, match={"app": "db"}),
                budget("elsewhere", 0, namespace="other-ns"),
            ],
        )
    )
    assert plan.blockers == ()


def test_a_budget_not_yet_counted_allows_nothing():
    strict = budget("web-pdb", 0)
    strict.status = None
    plan = classify(ClusterObjects(pods=[pod("web-1")], budgets=[strict]))
    assert texts(plan, BUDGETS) == [
        "PodDisruptionBudget shop/web-pdb has not been counted by the "
        "disruption controller (evictions are refused until it is): it "
        "blocks evicting shop/web-1 on node w1"
    ]


def test_a_budget_changed_since_it_was_counted_allows_nothing_yet():
    changed = budget("web-pdb", 1)
    changed.metadata.generation = 2
    changed.status.observed_generation = 1
    plan = classify(ClusterObjects(pods=[pod("web-1")], budgets=[changed]))
    assert plan.blockers == ()  # it still allows one: the API decides
    changed.status.disruptions_allowed = 0
    plan = classify(ClusterObjects(pods=[pod("web-1")], budgets=[changed]))
    assert "has not been counted by the disruption controller" in (
        plan.blockers[0].text
    )


def test_selectors_follow_the_api_rules():
    req = k.V1LabelSelectorRequirement
    labels = {"app": "web", "tier": "front"}
    assert not selects(None, labels)
    assert selects(k.V1LabelSelector(), labels)
    assert selects(k.V1LabelSelector(match_labels={"app": "web"}), labels)
    assert not selects(k.V1LabelSelector(match_labels={"app": "db"}), labels)
    for operator, values, expected in [
        ("In", ["front", "back"], True),
        ("NotIn", ["front"], False),
        ("Exists", None, True),
        ("DoesNotExist", None, False),
    ]:
        expr = req(key="tier", operator=operator, values=values)
        selector = k.V1LabelSelector(match_expressions=[expr])
        assert selects(selector, labels) is expected, operator


# --- pods without a controller --------------------------------------------


def test_a_pod_without_a_controller_is_a_blocker():
    plan = classify(
        ClusterObjects(
            pods=[
                pod("lone", owned_by=None),
                pod("adopted", owned_by=("ReplicaSet", "x", False)),
            ]
        )
    )
    assert texts(plan, BARE) == [
        "pod shop/lone on node w1 has no controller: kubectl drain refuses "
        "it, and with --force deletes it for good",
        "pod shop/adopted on node w1 has no controller: kubectl drain "
        "refuses it, and with --force deletes it for good",
    ]


# --- local storage --------------------------------------------------------


def test_claims_bound_to_local_or_host_path_volumes_cannot_move():
    plan = classify(
        ClusterObjects(
            pods=[
                pod("db-0", volumes=[claim_volume("data", "data-db-0")]),
                pod("cache-0", volumes=[claim_volume("data", "cache")]),
                pod("web-1", volumes=[claim_volume("data", "shared")]),
            ],
            claims=[
                claim("data-db-0", "pv-local"),
                claim("cache", "pv-host"),
                claim("shared", "pv-nfs"),
            ],
            volumes=[
                volume("pv-local", local="/mnt/disks/ssd1"),
                volume("pv-host", host_path="/var/cache"),
                volume("pv-nfs"),
            ],
        )
    )
    assert texts(plan, LOCAL) == [
        "pod shop/db-0 on node w1 uses PersistentVolumeClaim shop/data-db-0 "
        "bound to local (/mnt/disks/ssd1) PersistentVolume pv-local: its "
        "data stays on w1, the pod cannot move",
        "pod shop/cache-0 on node w1 uses PersistentVolumeClaim shop/cache "
        "bound to hostPath (/var/cache) PersistentVolume pv-host: its data "
        "stays on w1, the pod cannot move",
    ]


def test_a_generic_ephemeral_volume_is_found_by_its_claim_name():
    eph = k.V1Volume(name="scratch", ephemeral=k.V1EphemeralVolumeSource())
    plan = classify(
        ClusterObjects(
            pods=[pod("job-x", volumes=[eph])],
            claims=[claim("job-x-scratch", "pv-local")],
            volumes=[volume("pv-local", local="/mnt/x")],
        )
    )
    assert [b.subject for b in plan.of_kind(LOCAL)] == [
        "pod shop/job-x on node w1"
    ]


def test_empty_dir_is_a_warning_and_never_a_blocker():
    scratch = k.V1Volume(name="tmp", empty_dir=k.V1EmptyDirVolumeSource())
    plan = classify(ClusterObjects(pods=[pod("web-1", volumes=[scratch])]))
    assert plan.blockers == ()
    assert plan.emptydir == (
        "pod shop/web-1 on node w1: emptyDir tmp (deleted by the drain; "
        "kubectl drain --delete-emptydir-data)",
    )


# --- single-replica workloads behind a budget ------------------------------


def test_a_single_replica_deployment_behind_a_budget_is_a_blocker():
    plan = classify(
        ClusterObjects(
            pods=[pod("api-7c9-x", owned_by=("ReplicaSet", "api-7c9"))],
            budgets=[budget("api-pdb", 1, match={"app": "api"})],
            replicasets=[replicaset("api-7c9", "api")],
            deployments=[deployment("api", 1)],
        )
    )
    assert texts(plan, SINGLE) == [
        "Deployment shop/api runs 1 replica behind PodDisruptionBudget "
        "shop/api-pdb: the drain takes it down (shop/api-7c9-x on node w1)"
    ]


def test_a_single_replica_statefulset_whose_budget_allows_nothing_waits():
    sts = k.V1StatefulSet(
        metadata=k.V1ObjectMeta(name="db", namespace=NS),
        spec=k.V1StatefulSetSpec(
            replicas=1,
            selector=k.V1LabelSelector(match_labels={"app": "db"}),
            service_name="db",
            template=k.V1PodTemplateSpec(
                metadata=k.V1ObjectMeta(labels={"app": "db"})
            ),
        ),
    )
    plan = classify(
        ClusterObjects(
            pods=[
                pod(
                    "db-0",
                    node="w2",
                    owned_by=("StatefulSet", "db"),
                    labels={"app": "db"},
                )
            ],
            budgets=[budget("db-pdb", 0, match={"app": "db"})],
            statefulsets=[sts],
        )
    )
    assert texts(plan, SINGLE) == [
        "StatefulSet shop/db runs 1 replica behind PodDisruptionBudget "
        "shop/db-pdb: the drain waits forever (0 disruptions allowed) "
        "(shop/db-0 on node w2)"
    ]
    assert [b.subject for b in plan.of_kind(BUDGETS)] == [
        "PodDisruptionBudget shop/db-pdb"
    ]


def test_replicated_or_unbudgeted_workloads_are_no_blockers():
    plan = classify(
        ClusterObjects(
            pods=[
                pod("web-5d8f-a", labels={"app": "web"}),
                pod(
                    "solo-1-a",
                    owned_by=("ReplicaSet", "solo-1"),
                    labels={"app": "solo"},
                ),
            ],
            budgets=[budget("web-pdb", 1)],
            replicasets=[
                replicaset("web-5d8f", "web"),
                replicaset("solo-1", "solo"),
            ],
            deployments=[deployment("web", 3), deployment("solo", 1)],
        )
    )
    assert plan.blockers == ()


# --- dry-run evictions ----------------------------------------------------

REFUSED_429 = (
    '{"kind":"Status","status":"Failure","message":"Cannot evict pod as it '
    'would violate the pod\'s disruption budget.","reason":'
    '"TooManyRequests","details":{"causes":[{"reason":"DisruptionBudget",'
    '"message":"The disruption budget web-pdb needs 2 healthy pods and has '
    '2 currently"}]},"code":429}'
)
MULTIPLE_500 = (
    '{"kind":"Status","status":"Failure","message":"Internal error occurred:'
    " This pod has more than one PodDisruptionBudget, which the eviction "
    'subresource does not support.","reason":"InternalError","code":500}'
)
WEB_1 = PodRef(NS, "web-1", "w1")


def test_a_429_names_the_budget_that_refused():
    assert refusal_reason(429, REFUSED_429, WEB_1) == (
        "PodDisruptionBudget shop/web-pdb"
    )
    processing = (
        '{"message":"Cannot evict pod as it would violate the pod\'s '
        'disruption budget.","details":{"causes":[{"message":"The '
        "disruption budget web-pdb is still being processed by the "
        'server."}]},"code":429}'
    )
    assert refusal_reason(429, processing, WEB_1) == (
        "PodDisruptionBudget shop/web-pdb"
    )


def test_a_500_for_several_budgets_is_a_refusal():
    assert refusal_reason(500, MULTIPLE_500, WEB_1) == (
        "more than one PodDisruptionBudget (the eviction API refuses such "
        "a pod)"
    )


def test_other_answers_are_errors_not_refusals():
    throttled = '{"message":"Too many requests, please try again later."}'
    assert refusal_reason(429, throttled, WEB_1) is None
    assert refusal_reason(500, '{"message":"etcdserver: timeout"}', WEB_1) is (
        None
    )
    assert refusal_reason(403, REFUSED_429, WEB_1) is None


TERMINATING_403 = (
    '{"kind":"Status","apiVersion":"v1","status":"Failure","message":'
    '"pods \\"web-1\\" is forbidden: unable to create new content in '
    'namespace shop because it is being terminated","reason":"Forbidden",'
    '"details":{"name":"web-1","kind":"pods","causes":[{"reason":'
    '"NamespaceTerminating","message":"namespace shop is being terminated",'
    '"field":"metadata.namespace"}]},"code":403}'
)


def test_a_pod_whose_namespace_is_being_deleted_goes_with_it():
    # Seen on the lab: the previous test's namespace was still going when
    # the drain's dry-run asked to evict its pod.
    assert going_with_namespace(403, TERMINATING_403)
    assert refusal_reason(403, TERMINATING_403, WEB_1) is None


def test_any_other_403_is_not_taken_for_a_pod_going_away():
    forbidden = '{"reason":"Forbidden","message":"RBAC: access denied"}'
    assert not going_with_namespace(403, forbidden)
    assert not going_with_namespace(429, TERMINATING_403)


def test_refusals_are_reported_once_per_budget_with_pods_and_nodes():
    web_2 = PodRef(NS, "web-2", "w2")
    db_0 = PodRef(NS, "db-0", "w2")
    findings = refusal_findings(
        [
            Refusal(WEB_1, "PodDisruptionBudget shop/web-pdb"),
            Refusal(db_0, "PodDisruptionBudget shop/db-pdb"),
            Refusal(web_2, "PodDisruptionBudget shop/web-pdb"),
        ]
    )
    assert findings == [
        "dry-run eviction refused by PodDisruptionBudget shop/web-pdb: "
        "pod shop/web-1 on node w1, pod shop/web-2 on node w2",
        "dry-run eviction refused by PodDisruptionBudget shop/db-pdb: "
        "pod shop/db-0 on node w2",
    ]
