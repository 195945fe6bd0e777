# Pods read back from the API always have metadata; the client types it
# as optional.
# mypy: disable-error-code="union-attr"
"""UPG-04: nodes can be drained.

The cluster's pods, PodDisruptionBudgets, claims, volumes and workloads
are read once and classified (``_drain_blockers``: one part per kind of
blocker). Then every pod a drain would evict is asked of the API server
itself: a server-side **dry-run** eviction (``dryRun=All``: admission and
the budget check run, nothing is written, no budget is spent). Its
answers:

- 201: the eviction would go through;
- 429 naming a disruption budget: refused by that budget;
- 500 "more than one PodDisruptionBudget": the eviction API refuses any
  pod two budgets cover, so such a pod never drains;
- 404: the pod went away since the list (nothing left to drain);
- anything else (403, a 429 of API priority and fairness, ...) is an
  error and propagates: it says nothing about the drain.

Nothing here writes to the cluster.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.checks.upg._drain_blockers import (
    KINDS,
    ClusterObjects,
    DrainPlan,
    PodRef,
    classify,
)
from gauntlet.cluster.client import Cluster
from gauntlet.errors import ClusterOperationFailed
from gauntlet.wellknown import RUN_LABEL

__all__ = [
    "EVICTION_PART",
    "STEP",
    "Refusal",
    "check_nodes_can_be_drained",
    "read_cluster",
    "refusal_reason",
]

STEP = "nodes can be drained"
EVICTION_PART = "dry-run evictions"
NOTHING_TO_EVICT = (
    "no pod that a drain would evict (only DaemonSet, static and finished "
    "pods, or none)"
)
MULTIPLE_BUDGETS = "more than one PodDisruptionBudget"
NAMESPACE_TERMINATING = "NamespaceTerminating"
"""The cause the API server gives when a namespace being deleted refuses
new content (an eviction is new content)."""
_BUDGET = re.compile(r"disruption budget ([a-z0-9][a-z0-9.-]*)")
"""The budget named in a refusal's cause: ``The disruption budget NAME
needs 2 healthy pods and has 2 currently`` (or ``is still being processed
by the server``)."""


@dataclass(frozen=True)
class Refusal:
    """A dry-run eviction the API server refused."""

    pod: PodRef
    by: str
    """What refused it: ``PodDisruptionBudget ns/name`` or several."""


def check_nodes_can_be_drained(ctx: CheckContext) -> None:
    """No budget, bare pod, local volume or lone replica stops a drain,
    and the API server would accept the eviction of every pod.

    Raises:
        GuaranteeViolated: naming each budget (and the pods it holds, with
            their nodes), pod or workload that blocks a drain, and every
            refused dry-run eviction with what refused it.
        CheckSkipped: no pod that a drain would evict.
        ClusterOperationFailed: a dry-run eviction failed for another
            reason than a disruption budget.
    """
    plan = classify(read_cluster(ctx.cluster))
    _report(ctx, plan)
    if not plan.evicted:
        for name in (*KINDS, EVICTION_PART):
            ctx.unobserved(name, NOTHING_TO_EVICT)
        ctx.conclude(STEP)
        return
    for kind in KINDS:
        with ctx.part(kind) as part:
            found = plan.of_kind(kind)
            ctx.measure(f"drain blockers: {kind}", len(found), "", bound=0)
            for blocker in found:
                part.finding(blocker.text)
    with ctx.part(EVICTION_PART) as part:
        refusals, gone = dry_run_evictions(ctx.cluster.core(), plan.evicted)
        asked = len(plan.evicted) - len(gone)
        if asked == 0:
            raise CheckSkipped("every pod went away before its dry-run")
        ctx.measure("pods evaluated", asked, "pods")
        ctx.measure("evictions refused", len(refusals), "pods", bound=0)
        if gone:
            ctx.evidence("pods gone before their dry-run", _lines(gone))
        for text in refusal_findings(refusals):
            part.finding(text)
    ctx.conclude(STEP)


def read_cluster(cluster: Cluster) -> ClusterObjects:
    """Everything the classification needs, listed once."""
    core, apps = cluster.core(), cluster.apps()
    return ClusterObjects(
        pods=core.list_pod_for_all_namespaces().items,
        budgets=cluster.policy()
        .list_pod_disruption_budget_for_all_namespaces()
        .items,
        claims=core.list_persistent_volume_claim_for_all_namespaces().items,
        volumes=core.list_persistent_volume().items,
        replicasets=apps.list_replica_set_for_all_namespaces().items,
        deployments=apps.list_deployment_for_all_namespaces().items,
        statefulsets=apps.list_stateful_set_for_all_namespaces().items,
        namespaces=core.list_namespace(label_selector=RUN_LABEL).items,
    )


def dry_run_evictions(
    core: client.CoreV1Api, pods: Sequence[PodRef]
) -> tuple[list[Refusal], list[PodRef]]:
    """Ask for each pod's eviction with ``dryRun=All``: the refusals, and
    the pods that were gone (404)."""
    refusals: list[Refusal] = []
    gone: list[PodRef] = []
    for pod in pods:
        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=pod.name, namespace=pod.namespace)
        )
        try:
            core.create_namespaced_pod_eviction(
                pod.name, pod.namespace, body, dry_run="All"
            )
        except ApiException as exc:
            if exc.status == 404 or going_with_namespace(
                exc.status or 0, str(exc.body or "")
            ):
                gone.append(pod)
                continue
            by = refusal_reason(exc.status or 0, str(exc.body or ""), pod)
            if by is None:
                raise ClusterOperationFailed(
                    "dry-run evict",
                    f"pod {pod.name}",
                    pod.namespace,
                    f"{exc.status} {exc.reason}: {str(exc.body)[:300]}",
                ) from exc
            refusals.append(Refusal(pod, by))
    return refusals, gone


def going_with_namespace(status: int, body: str) -> bool:
    """A 403 because the pod's namespace is being deleted: the pod goes
    with it, as a drain would see, and no budget was asked."""
    return status == 403 and NAMESPACE_TERMINATING in body


def refusal_reason(status: int, body: str, pod: PodRef) -> str | None:
    """What refused an eviction, from the API's answer; None when the
    answer is not a budget's refusal (the caller's error)."""
    if status == 429 and "disruption budget" in body:
        named = _BUDGET.search(body)
        budget = named.group(1) if named else "(not named in the answer)"
        return f"PodDisruptionBudget {pod.namespace}/{budget}"
    if status == 500 and MULTIPLE_BUDGETS in body:
        return f"{MULTIPLE_BUDGETS} (the eviction API refuses such a pod)"
    return None


def refusal_findings(refusals: Iterable[Refusal]) -> list[str]:
    """One finding per refusing budget, naming its pods and their nodes."""
    pods: dict[str, list[PodRef]] = defaultdict(list)
    for refusal in refusals:
        pods[refusal.by].append(refusal.pod)
    return [
        f"dry-run eviction refused by {by}: {', '.join(_lines(refs))}"
        for by, refs in pods.items()
    ]


def _lines(pods: Iterable[PodRef]) -> list[str]:
    return [f"pod {p.label}" for p in pods]


def _report(ctx: CheckContext, plan: DrainPlan) -> None:
    by_node: dict[str, list[str]] = defaultdict(list)
    for pod in plan.evicted:
        by_node[pod.node].append(f"{pod.namespace}/{pod.name}")
    ctx.evidence(
        "drain plan",
        {
            "pods a drain would evict, by node": dict(sorted(by_node.items())),
            "blockers": [
                {"kind": b.kind, "subject": b.subject, "finding": b.text}
                for b in plan.blockers
            ],
            "emptyDir (a warning)": list(plan.emptydir),
            "left out (made by kube-gauntlet)": plan.ignored,
        },
    )
    ctx.measure("pods with emptyDir", len(plan.emptydir), "pods")
    if plan.emptydir:
        ctx.evidence("emptyDir data a drain deletes", "\n".join(plan.emptydir))
