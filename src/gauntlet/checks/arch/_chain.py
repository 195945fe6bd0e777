"""Which link of the chain broke: controller, scheduler or kubelet.

Work reaches a running pod through a chain of components: the
Deployment controller makes a ReplicaSet, the ReplicaSet controller makes
pods, the scheduler binds them, the kubelet runs them. A check that waits
for the end of the chain must, when the wait fails, first ask how far the
work got: blaming the scheduler for pods that were never created sends
the reader to the wrong component. ``broken_link`` finds the first link
that did not deliver; ``chain_note`` adds the evidence on that component
(its leader Lease, or the node Leases of the kubelets concerned).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gauntlet.checks.context import CheckContext
from gauntlet.observe.watch import (
    KubeObject,
    leader_lease_note,
    node_lease_note,
)

__all__ = [
    "BrokenLink",
    "Chain",
    "Through",
    "broken_link",
    "chain_note",
    "chain_of",
    "deployment_chain",
    "why_not_within",
]

Through = Literal["scheduled", "running", "ready"]
"""How far the work must get: bound to a node, running, or Ready."""

CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
KUBELET = "kubelet"
APISERVER = "kube-apiserver"


@dataclass(frozen=True)
class Chain:
    """How far some wanted pods got along the chain."""

    wanted: int
    pods: int
    """Live pods (not terminating)."""
    scheduled: int
    """Live pods bound to a node."""
    done: int
    """Live pods running (or Ready, as the check asks)."""
    replica_sets: int | None = None
    """ReplicaSets owned by the Deployment; None for bare pods."""
    rs_wanted: int | None = None
    """Sum of those ReplicaSets' ``spec.replicas``."""
    waiting_on: tuple[str, ...] = ()
    """Nodes with a bound pod that is not done yet."""


@dataclass(frozen=True)
class BrokenLink:
    """The first link that did not deliver, and the component behind it."""

    component: str
    text: str
    nodes: tuple[str, ...] = ()
    """For the kubelet: the nodes whose pods are not done."""


def broken_link(chain: Chain, through: Through) -> BrokenLink | None:
    """The first link of ``chain`` that did not deliver, or None.

    Order: Deployment -> ReplicaSet, ReplicaSet -> pods, pods -> nodes,
    nodes -> running (or Ready). A later link is only blamed once every
    earlier one delivered.
    """
    want = chain.wanted
    if chain.replica_sets is not None:
        if chain.replica_sets == 0:
            return BrokenLink(
                CONTROLLER_MANAGER,
                "no ReplicaSet created by the Deployment controller",
            )
        if chain.rs_wanted is not None and chain.rs_wanted != want:
            return BrokenLink(
                CONTROLLER_MANAGER,
                f"ReplicaSets want {chain.rs_wanted} pods, not {want}: the "
                "Deployment controller did not scale them",
            )
    if chain.pods != want:
        return _count_link(chain)
    if chain.scheduled < want:
        return BrokenLink(
            SCHEDULER,
            f"pods created but not scheduled ({chain.scheduled} of {want} "
            "bound)",
        )
    if through != "scheduled" and chain.done < want:
        return BrokenLink(
            KUBELET,
            f"pods scheduled but not {through} ({chain.done} of {want} "
            f"{through})",
            tuple(sorted(set(chain.waiting_on))),
        )
    return None


def _count_link(chain: Chain) -> BrokenLink:
    want, pods = chain.wanted, chain.pods
    if chain.replica_sets is None:
        return BrokenLink(APISERVER, f"only {pods} of {want} created pods seen")
    if pods == 0:
        text = "no pod created by the ReplicaSet controller"
    elif pods < want:
        text = (
            f"only {pods} of {want} pods created by the ReplicaSet controller"
        )
    else:
        text = (
            f"{pods} live pods where {want} are wanted: the ReplicaSet "
            f"controller did not remove {pods - want}"
        )
    return BrokenLink(CONTROLLER_MANAGER, text)


def chain_of(
    wanted: int,
    pods: Iterable[KubeObject],
    through: Through,
    replica_sets: Iterable[KubeObject] | None = None,
    deployment: str | None = None,
) -> Chain:
    """Count how far ``pods`` (and the Deployment's ReplicaSets) got.

    ``replica_sets`` None means bare pods (no controller link); otherwise
    only those owned by ``deployment`` count.
    """
    live = [p for p in pods if p.metadata.deletion_timestamp is None]
    bound = [p for p in live if p.spec and p.spec.node_name]
    done = [p for p in bound if _done(p, through)]
    owned: list[KubeObject] | None = None
    if replica_sets is not None:
        owned = [rs for rs in replica_sets if _owned_by(rs, deployment)]
    return Chain(
        wanted=wanted,
        pods=len(live),
        scheduled=len(bound),
        done=len(done) if through != "scheduled" else len(bound),
        replica_sets=None if owned is None else len(owned),
        rs_wanted=(
            None
            if owned is None
            else sum(int(rs.spec.replicas or 0) for rs in owned)
        ),
        waiting_on=tuple(
            str(p.spec.node_name) for p in bound if not _done(p, through)
        ),
    )


def deployment_chain(
    ctx: CheckContext, name: str, wanted: int, through: Through
) -> Chain:
    """Read the Deployment ``name``'s ReplicaSets and pods (``app=name``)."""
    selector = f"app={name}"
    sets: KubeObject = ctx.cluster.apps().list_namespaced_replica_set(
        ctx.namespace, label_selector=selector
    )
    pods: KubeObject = ctx.cluster.core().list_namespaced_pod(
        ctx.namespace, label_selector=selector
    )
    return chain_of(wanted, pods.items, through, sets.items, name)


def chain_note(ctx: CheckContext, link: BrokenLink) -> str:
    """Evidence on the component behind ``link``."""
    if link.component == KUBELET:
        notes = [node_lease_note(ctx.cluster, n) for n in link.nodes]
        return "; ".join(notes) or "no node named"
    if link.component == APISERVER:
        return "the watch missed created pods"
    return leader_lease_note(ctx.cluster, link.component)


def why_not_within(
    ctx: CheckContext, chain: Chain, through: Through, within_s: float
) -> str | None:
    """``"<link> within Ns: <evidence>"``, or None if no link broke."""
    link = broken_link(chain, through)
    if link is None:
        return None
    return f"{link.text} within {within_s:.0f}s: {chain_note(ctx, link)}"


def _done(pod: KubeObject, through: Through) -> bool:
    status = pod.status
    if status is None:
        return False
    if through == "ready":
        return any(
            c.type == "Ready" and c.status == "True"
            for c in status.conditions or []
        )
    statuses = status.container_statuses or []
    return bool(statuses) and all(
        s.state is not None and s.state.running is not None for s in statuses
    )


def _owned_by(replica_set: KubeObject, deployment: str | None) -> bool:
    owners = replica_set.metadata.owner_references or []
    return any(
        o.kind == "Deployment" and (deployment is None or o.name == deployment)
        for o in owners
    )
