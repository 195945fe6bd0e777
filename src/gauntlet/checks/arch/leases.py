"""ARCH-14: exactly one active scheduler and controller-manager.

Their leader-election Leases in kube-system are read every
``POLL_INTERVAL_S`` until each has been renewed twice or
``leaseDurationSeconds`` plus a margin has passed. A Lease must have a
holder, its ``renewTime`` must advance within ``leaseDurationSeconds``
(renewals are compared with each other, never with this host's clock),
and the holder must not change more than once (a flapping election). The
holder identity ``<host>_<uuid>`` must name a node on which that component
runs (a process through node access, else a Running pod). The renew
interval is measured from the holder's own timestamps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from kubernetes.client.exceptions import ApiException

from gauntlet.checks.context import CheckContext, violated
from gauntlet.observe.host import components

STEP = "exactly one active scheduler and controller-manager"
COMPONENTS = ("kube-scheduler", "kube-controller-manager")
NAMESPACE = "kube-system"
POLL_INTERVAL_S = 0.5
RENEWALS_WANTED = 2
MARGIN_S = 3.0
DEFAULT_LEASE_S = 15


@dataclass
class LeaseWatch:
    """What was seen of one Lease during the observation."""

    name: str
    duration_s: int = DEFAULT_LEASE_S
    holders: list[str] = field(default_factory=list)
    renewals: list[datetime] = field(default_factory=list)
    missing: bool = False
    changed_at: float = 0.0
    """Monotonic time the last new renewTime was seen."""
    ended_at: float = 0.0

    def observe(self, holder: str, renew: datetime | None, now: float) -> None:
        if not self.holders or self.holders[-1] != holder:
            self.holders.append(holder)
        if renew is not None and (
            not self.renewals or renew != self.renewals[-1]
        ):
            self.renewals.append(renew)
            self.changed_at = now
        self.ended_at = now

    @property
    def unrenewed_s(self) -> float:
        """How long the observation saw no new renewTime (at the end)."""
        return self.ended_at - self.changed_at

    @property
    def renewed(self) -> int:
        """How many renewals happened after the first observation."""
        return max(len(self.renewals) - 1, 0)

    @property
    def interval_s(self) -> float | None:
        if len(self.renewals) < 2:
            return None
        span = (self.renewals[-1] - self.renewals[0]).total_seconds()
        return span / (len(self.renewals) - 1)


def check_one_active_leader_each(ctx: CheckContext) -> None:
    """Each Lease has one holder that renews and that runs.

    Raises:
        GuaranteeViolated: naming the Lease, its holder and what is wrong
            (missing, no holder, not renewed within leaseDuration, holder
            changing, holder not running).
    """
    watches = _observe(ctx)
    problems = []
    for w in watches:
        problems += _judge(ctx, w)
    ctx.evidence(
        "leader leases",
        {
            w.name: {
                "holders": w.holders,
                "renewals": [r.isoformat() for r in w.renewals],
                "leaseDurationSeconds": w.duration_s,
            }
            for w in watches
        },
    )
    if problems:
        raise violated(STEP, "; ".join(problems))


def _observe(ctx: CheckContext) -> list[LeaseWatch]:
    coordination = ctx.cluster.coordination()
    watches = [LeaseWatch(name) for name in COMPONENTS]
    start = time.monotonic()
    while True:
        for w in watches:
            try:
                lease = coordination.read_namespaced_lease(w.name, NAMESPACE)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                w.missing = True
                continue
            spec = lease.spec
            if spec is None:
                continue
            w.duration_s = int(spec.lease_duration_seconds or DEFAULT_LEASE_S)
            w.observe(
                str(spec.holder_identity or ""),
                spec.renew_time,
                time.monotonic(),
            )
        deadline = max(w.duration_s for w in watches) + MARGIN_S
        done = all(w.missing or w.renewed >= RENEWALS_WANTED for w in watches)
        if done or time.monotonic() - start >= deadline:
            return watches
        time.sleep(POLL_INTERVAL_S)


def _judge(ctx: CheckContext, w: LeaseWatch) -> list[str]:
    lease = f"Lease {NAMESPACE}/{w.name}"
    if w.missing:
        return [f"{lease} does not exist (no leader election)"]
    holder = w.holders[-1] if w.holders else ""
    if not holder:
        return [f"{lease} has no holder"]
    interval = w.interval_s
    if interval is not None:
        ctx.measure(
            f"{w.name} lease renew interval", interval, "s", w.duration_s
        )
    problems = []
    if w.renewed == 0 or w.unrenewed_s > w.duration_s:
        problems.append(
            f"{lease} held by {holder} was not renewed for "
            f"{w.unrenewed_s:.0f}s, over its {w.duration_s}s leaseDuration "
            f"(last renewTime "
            f"{w.renewals[-1].isoformat() if w.renewals else 'never'})"
        )
    if len(w.holders) > 2:
        problems.append(
            f"{lease} changed holder {len(w.holders) - 1} times: "
            f"{', '.join(w.holders)}"
        )
    running = _holder_runs(ctx, w.name, holder)
    if running is False:
        problems.append(f"{lease} holder {holder}: no {w.name} runs there")
    return problems


def _holder_runs(ctx: CheckContext, component: str, holder: str) -> bool | None:
    """Whether ``component`` runs on the holder's node; None if unknown."""
    host = holder.split("_", 1)[0]
    if host not in {n.name for n in ctx.topology.nodes}:
        return None
    if ctx.nodes is not None:
        return any(c.name == component for c in components(ctx.nodes, host))
    if ctx.topology.control_plane_mode != "static-pods":
        return None  # host services are invisible without node access
    pods = ctx.cluster.core().list_namespaced_pod(
        NAMESPACE, field_selector=f"spec.nodeName={host}"
    )
    return any(
        str(p.metadata.name if p.metadata else "").startswith(component)
        and p.status is not None
        and p.status.phase == "Running"
        for p in pods.items
    )
