"""ARCH-14: exactly one active scheduler and controller-manager.

Their leader-election Leases in kube-system are read every
``POLL_INTERVAL_S`` until each has been renewed twice or
``leaseDurationSeconds`` plus a margin has passed. A Lease must have a
holder, its ``renewTime`` must advance within ``leaseDurationSeconds``
(renewals are compared with each other, never with this host's clock),
and the holder must not change more than once (a flapping election). The
renew interval is measured from the holder's own timestamps.

A Lease cannot show an instance that runs without leader election, so a
third part reads every running instance (processes on the control-plane
nodes, pods in kube-system; see ``_instances``): more than one active
instance is a finding naming node and process, and the holder identity
``<host>_<uuid>`` must name a node on which that component runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from kubernetes.client.exceptions import ApiException

from gauntlet.checks.arch import _instances
from gauntlet.checks.context import CheckContext, Part

STEP = "exactly one active scheduler and controller-manager"
INSTANCES_PART = "active instances"
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
    """Each Lease has one holder that renews and that runs, and no other
    instance is active beside it.

    Raises:
        GuaranteeViolated: naming the Lease, its holder and what is wrong
            (missing, no holder, not renewed within leaseDuration, holder
            changing, holder not running), or the node and process or pod
            of an instance active beside the leader.
        CheckSkipped: nothing could be observed.
    """
    watches = _observe(ctx)
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
    for w in watches:
        with ctx.part(f"{w.name} lease") as part:
            if w.interval_s is not None:
                ctx.measure(
                    f"{w.name} lease renew interval",
                    w.interval_s,
                    "s",
                    w.duration_s,
                )
            for finding in lease_findings(w):
                part.finding(finding)
    with ctx.part(INSTANCES_PART) as part:
        _judge_instances(ctx, part, watches)
    ctx.conclude(STEP)


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


def lease_findings(w: LeaseWatch) -> list[str]:
    """What is wrong with one Lease as observed (pure)."""
    lease = f"Lease {NAMESPACE}/{w.name}"
    if w.missing:
        return [f"{lease} does not exist (no leader election)"]
    holder = w.holders[-1] if w.holders else ""
    if not holder:
        return [f"{lease} has no holder"]
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
    return problems


def _judge_instances(
    ctx: CheckContext, part: Part, watches: list[LeaseWatch]
) -> None:
    holders = {w.name: w.holders[-1] for w in watches if w.holders}
    hosts = {h.split("_", 1)[0] for h in holders.values()}
    instances, seen = _instances.survey(ctx, COMPONENTS, hosts)
    ctx.evidence(
        "scheduler and controller-manager instances",
        "\n".join(i.described for i in instances),
    )
    for component in COMPONENTS:
        findings = _instances.active_findings(component, instances)
        holder = holders.get(component, "")
        findings += _instances.holder_findings(
            component, holder, instances, seen
        )
        for finding in findings:
            part.finding(finding)
