# The client types every model field as optional; objects read back from
# the API always have metadata and spec.
# mypy: disable-error-code="union-attr"
"""What would stop ``kubectl drain`` on each node: pure, over client models.

A drain evicts every pod on the node except DaemonSet pods and static
(mirror) pods, as ``kubectl drain --ignore-daemonsets`` does; finished
pods are deleted without asking and pods already being deleted are on
their way out. Over the pods it would evict, four kinds of blocker:

disruption budgets
    a PodDisruptionBudget whose ``status.disruptionsAllowed`` is 0 over
    pods a drain would evict: every eviction is refused until it allows
    one, so the drain waits forever;
pods without a controller
    no owner reference with ``controller: true``: ``kubectl drain``
    refuses them, and ``--force`` deletes them for good;
local storage
    a PersistentVolumeClaim bound to a ``local`` or ``hostPath``
    PersistentVolume: the data stays on the node, the pod cannot move;
single-replica workloads behind a budget
    a Deployment or StatefulSet of one replica that a budget covers:
    the drain waits forever (0 allowed) or the service goes down.

``emptyDir`` volumes are listed, not judged: their data is lost on a
drain, and ``kubectl drain --delete-emptydir-data`` is the routine way
to accept that. Whatever a kube-gauntlet run made (its namespaces, its
node-access pods) is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gauntlet.checks.upg._owners import (
    FINISHED,
    controller_of,
    deployments_of_replicasets,
    is_daemon,
    is_mirror,
    made_by_us,
    run_namespaces,
    workload_of,
)

__all__ = [
    "BARE",
    "BUDGETS",
    "KINDS",
    "LOCAL",
    "SINGLE",
    "Blocker",
    "ClusterObjects",
    "DrainPlan",
    "PodRef",
    "classify",
    "selects",
]

BUDGETS = "disruption budgets"
BARE = "pods without a controller"
LOCAL = "local storage"
SINGLE = "single-replica workloads behind a budget"
KINDS = (BUDGETS, BARE, LOCAL, SINGLE)
SHOWN = 10
"""Pods named in one finding before ``+N more``."""


@dataclass(frozen=True)
class PodRef:
    """A pod a drain would evict, and its node."""

    namespace: str
    name: str
    node: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name} on node {self.node}"


@dataclass(frozen=True)
class Blocker:
    """One reason a node cannot be drained."""

    kind: str
    """One of ``KINDS``."""
    subject: str
    """The object at fault: ``PodDisruptionBudget ns/name``, ``pod ...``."""
    text: str
    """The finding: what, where and why."""


@dataclass(frozen=True)
class ClusterObjects:
    """What the classification reads, as listed from the API."""

    pods: Sequence[Any]
    budgets: Sequence[Any] = ()
    claims: Sequence[Any] = ()
    volumes: Sequence[Any] = ()
    replicasets: Sequence[Any] = ()
    deployments: Sequence[Any] = ()
    statefulsets: Sequence[Any] = ()
    namespaces: Sequence[Any] = ()


@dataclass(frozen=True)
class DrainPlan:
    """The pods a drain would evict and what stands in its way."""

    evicted: tuple[PodRef, ...]
    blockers: tuple[Blocker, ...]
    emptydir: tuple[str, ...]
    """Pods whose emptyDir data a drain deletes (a warning)."""
    ignored: int
    """Pods a kube-gauntlet run made, left out."""

    def of_kind(self, kind: str) -> list[Blocker]:
        return [b for b in self.blockers if b.kind == kind]


def classify(objs: ClusterObjects) -> DrainPlan:
    """The drain plan of the whole cluster (every node)."""
    ours = run_namespaces(objs.namespaces)
    mine = sum(1 for p in objs.pods if made_by_us(p, ours))
    moving = [p for p in objs.pods if _evicted(p) and not made_by_us(p, ours)]
    refs = {id(p): _ref(p) for p in moving}
    budgets = [b for b in objs.budgets if not made_by_us(b, ours)]
    blockers = [
        *_budget_blockers(budgets, moving, refs),
        *(
            Blocker(BARE, f"pod {refs[id(p)].label}", _bare_text(refs[id(p)]))
            for p in moving
            if controller_of(p) is None
        ),
        *_local_blockers(objs, moving, refs),
        *_single_replica_blockers(objs, budgets, moving, refs, ours),
    ]
    emptydir = [
        f"pod {refs[id(p)].label}: emptyDir {', '.join(names)} "
        "(deleted by the drain; kubectl drain --delete-emptydir-data)"
        for p in moving
        if (names := [v.name for v in _volumes(p) if v.empty_dir is not None])
    ]
    return DrainPlan(
        evicted=tuple(refs[id(p)] for p in moving),
        blockers=tuple(blockers),
        emptydir=tuple(emptydir),
        ignored=mine,
    )


def selects(selector: Any, labels: dict[str, str]) -> bool:
    """A label selector as the API server applies it to a budget: none
    selects nothing, an empty one selects everything.

    Raises:
        ValueError: an operator the API does not define.
    """
    if selector is None:
        return False
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    return all(_matches(e, labels) for e in selector.match_expressions or [])


def _matches(expr: Any, labels: dict[str, str]) -> bool:
    has = expr.key in labels
    values = expr.values or []
    match expr.operator:
        case "In":
            return has and labels[expr.key] in values
        case "NotIn":
            return not has or labels[expr.key] not in values
        case "Exists":
            return has
        case "DoesNotExist":
            return not has
    raise ValueError(f"label selector operator {expr.operator!r}")


def _evicted(pod: Any) -> bool:
    """On a node, and a drain would evict it."""
    return bool(
        pod.spec.node_name
        and pod.metadata.deletion_timestamp is None
        and (pod.status.phase if pod.status else None) not in FINISHED
        and not is_mirror(pod)
        and not is_daemon(pod)
    )


def _ref(pod: Any) -> PodRef:
    meta = pod.metadata
    return PodRef(str(meta.namespace), str(meta.name), str(pod.spec.node_name))


def _volumes(pod: Any) -> list[Any]:
    return list(pod.spec.volumes or [])


def _labels(obj: Any) -> dict[str, str]:
    return dict(obj.metadata.labels or {})


def _name(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def _listed(pods: Iterable[PodRef]) -> str:
    labels = [p.label for p in pods]
    more = len(labels) - SHOWN
    return ", ".join(labels[:SHOWN]) + (f" (+{more} more)" if more > 0 else "")


def _allowed(budget: Any) -> int:
    """``disruptionsAllowed``; 0 until the disruption controller has
    counted (the eviction API refuses until then too)."""
    status = budget.status
    return int(status.disruptions_allowed or 0) if status else 0


def _covered(budget: Any, pods: Iterable[Any]) -> list[Any]:
    ns = budget.metadata.namespace
    return [
        p
        for p in pods
        if p.metadata.namespace == ns
        and selects(budget.spec.selector, _labels(p))
    ]


def _budget_blockers(
    budgets: Sequence[Any], moving: Sequence[Any], refs: dict[int, PodRef]
) -> list[Blocker]:
    found = []
    for budget in budgets:
        covered = _covered(budget, moving)
        if _allowed(budget) > 0 or not covered:
            continue
        subject = f"PodDisruptionBudget {_name(budget)}"
        found.append(
            Blocker(
                BUDGETS,
                subject,
                f"{subject} {_why_none(budget)}: it blocks evicting "
                f"{_listed(refs[id(p)] for p in covered)}",
            )
        )
    return found


def _why_none(budget: Any) -> str:
    status = budget.status
    seen = (status.observed_generation or 0) if status else -1
    if seen < (budget.metadata.generation or 0):
        return (
            "has not been counted by the disruption controller (evictions "
            "are refused until it is)"
        )
    return (
        f"allows no disruption ({status.current_healthy or 0} healthy, "
        f"{status.desired_healthy or 0} required)"
    )


def _bare_text(ref: PodRef) -> str:
    return (
        f"pod {ref.label} has no controller: kubectl drain refuses it, "
        "and with --force deletes it for good"
    )


def _local_blockers(
    objs: ClusterObjects, moving: Sequence[Any], refs: dict[int, PodRef]
) -> list[Blocker]:
    claims = {
        (c.metadata.namespace, c.metadata.name): c.spec.volume_name
        for c in objs.claims
        if c.spec and c.spec.volume_name
    }
    local = {
        v.metadata.name: kind
        for v in objs.volumes
        if (kind := _local_kind(v)) is not None
    }
    found = []
    for pod in moving:
        for volume in _volumes(pod):
            claim = _claim_name(pod, volume)
            bound = claims.get((pod.metadata.namespace, claim or ""))
            if claim is None or bound not in local:
                continue
            ref = refs[id(pod)]
            found.append(
                Blocker(
                    LOCAL,
                    f"pod {ref.label}",
                    f"pod {ref.label} uses PersistentVolumeClaim "
                    f"{ref.namespace}/{claim} bound to {local[bound]} "
                    f"PersistentVolume {bound}: its data stays on "
                    f"{ref.node}, the pod cannot move",
                )
            )
    return found


def _local_kind(volume: Any) -> str | None:
    spec = volume.spec
    if spec is None:
        return None
    if spec.local is not None:
        return f"local ({spec.local.path})"
    if spec.host_path is not None:
        return f"hostPath ({spec.host_path.path})"
    return None


def _claim_name(pod: Any, volume: Any) -> str | None:
    """The claim behind a volume; a generic ephemeral volume's claim is
    named ``<pod>-<volume>``."""
    if volume.persistent_volume_claim is not None:
        return str(volume.persistent_volume_claim.claim_name)
    if volume.ephemeral is not None:
        return f"{pod.metadata.name}-{volume.name}"
    return None


def _single_replica_blockers(
    objs: ClusterObjects,
    budgets: Sequence[Any],
    moving: Sequence[Any],
    refs: dict[int, PodRef],
    ours: frozenset[str],
) -> list[Blocker]:
    index = deployments_of_replicasets(objs.replicasets)
    workloads = [("Deployment", w) for w in objs.deployments] + [
        ("StatefulSet", w) for w in objs.statefulsets
    ]
    found = []
    for kind, workload in workloads:
        if workload.spec.replicas != 1 or made_by_us(workload, ours):
            continue
        template = workload.spec.template.metadata
        labels = dict((template.labels if template else None) or {})
        ns = workload.metadata.namespace
        pods = [
            refs[id(p)]
            for p in moving
            if workload_of(p, index) == (kind, _name(workload))
        ]
        for budget in budgets:
            if budget.metadata.namespace != ns or not pods:
                continue
            if not selects(budget.spec.selector, labels):
                continue
            effect = (
                "the drain waits forever (0 disruptions allowed)"
                if _allowed(budget) == 0
                else "the drain takes it down"
            )
            subject = f"{kind} {_name(workload)}"
            found.append(
                Blocker(
                    SINGLE,
                    subject,
                    f"{subject} runs 1 replica behind PodDisruptionBudget "
                    f"{_name(budget)}: {effect} ({_listed(pods)})",
                )
            )
    return found
