"""What every RES and PART check does around a fault.

Faults go through the fault ledger, and a check always calls ``restore``
at the end, which rolls back whatever is still open. An outage whose end
the guarantee observes (a kubelet, an etcd member or an API server
stopped, a node partitioned) is given its duration (``outage``): the
node ends it itself at the planned time, since the fault may cut the
very path the runner would send the undo by; the check watches from
outside and reads afterwards when the node ended it (``outage_over``).
The watched workload is in ``web``, the write history in ``writes``.

A check proves its guarantee in parts (``CheckContext.part``), judged
after the fault, in the order the steps ran. A wait inside the fault
window that fails is kept (``attempt``) and raised again in its part
(``settle``): the steps after it still run at the same times, and the
violation is reported with the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gauntlet import progress
from gauntlet.checks.chaos import writes
from gauntlet.checks.context import CheckContext, violated
from gauntlet.errors import GuaranteeViolated
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger, LedgerEntry
from gauntlet.faults.rollback import Rollback
from gauntlet.nodes.base import NodeAccess
from gauntlet.nodes.types import PARTITION, Restore
from gauntlet.observe import endpoints
from gauntlet.wellknown import APISERVER_PORT

__all__ = [
    "BASELINE_S",
    "EtcdRoles",
    "Outage",
    "apiserver_urls",
    "attempt",
    "etcd_nodes",
    "etcd_roles",
    "fault_window",
    "inject",
    "monotonic_of",
    "node_of_address",
    "outage",
    "outage_over",
    "partition_for",
    "restore",
    "settle",
    "stop_for",
    "stop_now",
    "wait_control_plane_healthy",
]

HEALTH_TIMEOUT_S = 180.0
BASELINE_S = 2.0
"""Writes recorded before a fault, so its window has a baseline."""
POLL_S = 1.0
T = TypeVar("T")


def attempt(step: Callable[[], T]) -> T | GuaranteeViolated:
    """Run ``step`` (a wait inside a fault window); keep the violation it
    raises (a timeout carries the last observed state) for its part.

    Only verdicts are kept: any error propagates at once.
    """
    try:
        return step()
    except GuaranteeViolated as exc:
        return exc


def settle(outcome: T | GuaranteeViolated) -> T:
    """The value ``attempt`` kept, or its violation raised (in a part)."""
    if isinstance(outcome, GuaranteeViolated):
        raise outcome
    return outcome


def inject(
    ledger: FaultLedger,
    description: str,
    rollback: Rollback,
    action: Callable[[], object],
) -> float:
    """Record and inject a fault; return ``time.monotonic()`` after it."""
    ledger.inject(description, rollback, action)
    return time.monotonic()


def stop_now(
    access: NodeAccess, node: str, component: str, for_s: float | None = None
) -> None:
    """SIGKILL, then stop: an outage that begins at once (with ``for_s``,
    one the node ends itself).

    A graceful stop of kube-apiserver drains for up to 15 s, and the lab's
    node supervisor answers no other request meanwhile.
    """
    access.stop(node, component, for_s=for_s, now=True)


@dataclass(frozen=True)
class Outage:
    """A fault its node ends itself; open in the ledger until then."""

    entry: LedgerEntry
    node: str
    what: str
    """The component, or ``PARTITION``."""
    for_s: float
    sent: float
    """``time.monotonic()`` as the fault was sent (its plan starts)."""
    injected: float
    """``time.monotonic()`` once the fault's request returned."""

    def left_s(self) -> float:
        """Seconds until the node ends the outage (about)."""
        return self.sent + self.for_s - time.monotonic()


def outage(
    ledger: FaultLedger,
    node: str,
    what: str,
    for_s: float,
    description: str,
    rollback: Rollback,
    action: Callable[[], object],
) -> Outage:
    """Record and inject a fault whose ``action`` hands ``for_s`` to the
    node (``stop_for`` and ``partition_for`` are the usual ones)."""
    sent = time.monotonic()
    entry = ledger.inject_entry(description, rollback, action)
    return Outage(entry, node, what, for_s, sent, time.monotonic())


def stop_for(
    ledger: FaultLedger,
    access: NodeAccess,
    node: str,
    component: str,
    for_s: float,
    now: bool = False,
) -> Outage:
    """Stop ``component`` on ``node`` for ``for_s`` seconds, after which
    the node starts it again; ``now``: SIGKILL it first (``stop_now``)."""

    def stop() -> None:
        if now:
            stop_now(access, node, component, for_s)
        else:
            access.stop(node, component, for_s=for_s)

    return outage(
        ledger,
        node,
        component,
        for_s,
        f"stop {component} on {node} for {for_s:g}s",
        kinds.start_component(access, node, component),
        stop,
    )


def partition_for(
    ledger: FaultLedger,
    access: NodeAccess,
    node: str,
    peers: list[str],
    for_s: float,
) -> Outage:
    """Cut ``node`` off from ``peers`` for ``for_s`` seconds, after which
    the node heals itself."""
    return outage(
        ledger,
        node,
        PARTITION,
        for_s,
        f"partition {node} from {', '.join(peers)} for {for_s:g}s",
        kinds.heal_partition(access, node),
        lambda: access.partition(node, peers, for_s=for_s),
    )


def outage_over(
    ctx: CheckContext, ledger: FaultLedger, access: NodeAccess, cut: Outage
) -> Restore:
    """Wait until the node has ended ``cut`` itself; close its entry.

    The runner sends no undo: it waits for the planned end, reads the
    node's own log once the node answers, and takes from it when the
    fault applied and when the node began to undo it (what recovery
    times count from; evidence says how far the times may be off).

    Raises:
        NodeAccessError: the node did not answer with the fault undone
            (its entry stays open: the test's rollback, the node's dead
            man's switch or ``gauntlet recover`` undo it).
    """
    ended = access.wait_restored(cut.node, cut.what)
    down = ended.ended_at - ended.applied_at
    ledger.ended(
        cut.entry, f"undone by the node ({ended.by}) after {down:.1f}s"
    )
    ctx.evidence(
        f"{cut.what} on {cut.node}: the node's record of the outage",
        {
            "planned_s": ended.planned_s,
            "applied_at": ended.applied_at,
            "ended_at": ended.ended_at,
            "ended_by": ended.by,
            "undo_s": ended.undo_s,
            "times_within_s": ended.error_s,
        },
    )
    return ended


def monotonic_of(epoch: float) -> float:
    """The runner's ``time.monotonic()`` at its ``time.time()`` ``epoch``."""
    return time.monotonic() - (time.time() - epoch)


def fault_window(ended: Restore) -> tuple[float, float]:
    """``time.monotonic()`` when the fault surely held, from the node's
    record: narrowed by its error, so an operation counted inside the
    window never straddles the fault's start or end."""
    start = monotonic_of(ended.applied_at) + ended.error_s
    end = monotonic_of(ended.ended_at) - ended.error_s
    return start, max(start, end)


def restore(ledger: FaultLedger) -> None:
    """Roll back everything still open.

    Raises:
        GuaranteeViolated: a rollback failed (the cluster may be broken).
    """
    failures = ledger.rollback_all()
    if failures:
        raise violated(
            "restoring the cluster",
            "; ".join(f"{f.entry.description}: {f.error}" for f in failures)
            + "; run `gauntlet recover`",
        )


def node_of_address(ctx: CheckContext, address: str) -> str:
    """The node whose InternalIP is ``address`` (else the address)."""
    for node in ctx.topology.nodes:
        if node.internal_ip == address:
            return node.name
    return address


def etcd_nodes(ctx: CheckContext) -> tuple[str, list[str]]:
    """(leader address, follower addresses) from etcdctl."""
    members = ctx.etcd("finding the etcd leader").statuses()
    leaders = [m.host for m in members if m.is_leader]
    if len(leaders) != 1:
        raise violated("finding the etcd leader", f"{len(leaders)} leaders")
    return leaders[0], sorted(m.host for m in members if not m.is_leader)


@dataclass(frozen=True)
class EtcdRoles:
    """The etcd members as the nodes they run on."""

    leader: str
    followers: list[str]


def etcd_roles(ctx: CheckContext) -> EtcdRoles:
    leader, followers = etcd_nodes(ctx)
    return EtcdRoles(
        node_of_address(ctx, leader),
        [node_of_address(ctx, f) for f in followers],
    )


def apiserver_urls(ctx: CheckContext) -> dict[str, str]:
    """Each control plane's API server URL: as published in the
    ``kubernetes`` EndpointSlices, else its InternalIP on the published
    port (an API server that just came back may not be published yet)."""
    found = endpoints.apiserver_endpoints(ctx.cluster)
    port = next(
        (u.rsplit(":", 1)[1] for u in found.values()), str(APISERVER_PORT)
    )
    for node in ctx.topology.control_planes:
        if node.name not in found and node.internal_ip:
            found[node.name] = f"https://{node.internal_ip}:{port}"
    return dict(sorted(found.items()))


def wait_control_plane_healthy(
    ctx: CheckContext,
    members: int,
    timeout_s: float = HEALTH_TIMEOUT_S,
) -> float:
    """Wait until etcd has ``members`` members with one leader and every
    API server answers a write; return the seconds it took.

    Raises:
        GuaranteeTimeout: not healthy within ``timeout_s``.
    """
    start = time.monotonic()
    etcd = ctx.etcd("waiting for a healthy control plane")

    def healthy() -> bool:
        ctx.cluster.reconnect()  # not pinned to what was left during a fault
        found = etcd.statuses()
        leaders = {m.leader_id for m in found}
        if len(found) < members or len(leaders) != 1 or "0" in leaders:
            return False
        endpoints = apiserver_urls(ctx)
        if not all(writes.writable(ctx, url) for url in endpoints.values()):
            return False
        # The ServiceAccount controller (kube-controller-manager) works:
        ctx.cluster.core().read_namespaced_service_account(
            "default", ctx.namespace
        )
        return True

    progress.wait_until(
        "the control plane to be healthy again",
        healthy,
        timeout_s,
        POLL_S,
        quiet=True,
    )
    return time.monotonic() - start
