"""What every RES and PART check does around a fault.

Faults go through the fault ledger; a check ends an outage itself (start,
heal) when the guarantee needs the recovery observed, and always calls
``restore`` at the end, which rolls back whatever is still open. The
watched workload is in ``web``, the write history in ``writes``.

A check proves its guarantee in parts (``CheckContext.part``), judged
after the fault, in the order the steps ran. A wait inside the fault
window that fails is kept (``attempt``) and raised again in its part
(``settle``): the steps after it still run at the same times, and the
violation is reported with the others.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gauntlet import progress
from gauntlet.checks.chaos import writes
from gauntlet.checks.context import CheckContext, violated
from gauntlet.errors import GuaranteeViolated
from gauntlet.faults.ledger import FaultLedger
from gauntlet.faults.rollback import Rollback
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe import endpoints
from gauntlet.wellknown import APISERVER_PORT

__all__ = [
    "BASELINE_S",
    "EtcdRoles",
    "apiserver_urls",
    "attempt",
    "etcd_nodes",
    "etcd_roles",
    "inject",
    "node_of_address",
    "restore",
    "settle",
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


def stop_now(access: NodeAccess, node: str, component: str) -> None:
    """SIGKILL, then stop: an outage that begins at once.

    A graceful stop of kube-apiserver drains for up to 15 s, and the lab's
    node supervisor answers no other request meanwhile.
    """
    access.kill(node, component, signal.SIGKILL)
    access.stop(node, component)


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
