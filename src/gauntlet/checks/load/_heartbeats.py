"""The system's own traffic during LOAD-02's ramp: node Leases and Ready.

A kubelet renews its node Lease (``kube-node-lease``) every quarter of
``leaseDurationSeconds`` (10 s of the default 40 s), and the node
lifecycle controller marks the node NotReady when the Lease is not
renewed within its grace period (50 s). Both are requests to the API
server that an overload must not starve, so LOAD-02 watches every node
Lease and every Node (list, then watch, with the run's own exempt
credentials) while the ramp runs.

A renewal gap over half the lease duration (two renew periods: one
renewal missed and the next late) is a finding, well before the Lease
expires: the period is what the guarantee keeps, not only the expiry.
Gaps are measured between ``renewTime`` values (the kubelet's clock),
and from the last renewal to the window's end on the runner's clock
(clocks assumed synchronised, as the node lifecycle controller does).
"""

from __future__ import annotations

import calendar
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from gauntlet.cluster.client import Cluster
from gauntlet.observe.watch import KubeObject, Seen, Watcher

__all__ = [
    "LEASE_NAMESPACE",
    "LeaseGap",
    "NodeReadiness",
    "Observers",
    "gap_bound_s",
    "lease_gaps",
    "lease_renewals",
    "not_ready_during",
    "observe_heartbeats",
    "readiness",
]

LEASE_NAMESPACE = "kube-node-lease"
DEFAULT_LEASE_S = 40
"""The kubelet's default ``nodeLeaseDurationSeconds``."""
RENEW_FRACTION = 0.25
"""The kubelet renews every ``RENEW_FRACTION`` of the lease duration."""
MISSED_PERIODS = 2
"""A gap over this many renew periods is a finding (``gap_bound_s``)."""


@dataclass(frozen=True)
class LeaseGap:
    """The longest wait between renewals of one node's Lease."""

    node: str
    gap_s: float
    bound_s: float
    renewals: int
    """Distinct renewals seen in the window (the listed one included)."""

    @property
    def over(self) -> bool:
        return self.gap_s > self.bound_s

    def finding(self) -> str:
        return (
            f"node {self.node}: Lease not renewed for {self.gap_s:.0f}s "
            f"(bound {self.bound_s:g}s, {self.renewals} renewals seen)"
        )


@dataclass(frozen=True)
class NodeReadiness:
    """One node's Ready condition over the window."""

    node: str
    ready_at_start: bool
    not_ready: tuple[str, ...]
    """Each Ready status other than True seen during the window."""


def gap_bound_s(lease_duration_s: int | None) -> float:
    """Two renew periods of a Lease of this duration (20 s of 40 s)."""
    duration = lease_duration_s or DEFAULT_LEASE_S
    return MISSED_PERIODS * RENEW_FRACTION * duration


def lease_gaps(
    node: str,
    renewals: Sequence[float],
    start: float,
    end: float,
    bound_s: float,
) -> LeaseGap:
    """The longest gap between the renewals (epoch seconds, any order)
    that fall inside ``[start, end]``, the last renewal before ``start``
    included, and from the last renewal to ``end``."""
    times = sorted(set(renewals))
    before = [t for t in times if t < start]
    inside = [t for t in times if start <= t <= end]
    points = ([before[-1]] if before else []) + inside
    if not points:
        return LeaseGap(node, end - start, bound_s, 0)
    gaps = [b - a for a, b in zip(points, points[1:], strict=False)]
    gaps.append(end - points[-1])
    if not before:
        gaps.append(points[0] - start)
    return LeaseGap(node, max(gaps), bound_s, len(points))


def lease_renewals(history: Sequence[Seen]) -> tuple[list[float], int | None]:
    """Every ``renewTime`` (epoch seconds) in a Lease's watch history,
    and its ``leaseDurationSeconds``."""
    times: list[float] = []
    duration: int | None = None
    for seen in history:
        spec = seen.obj.spec
        if seen.kind == "DELETED" or spec is None:
            continue
        duration = spec.lease_duration_seconds or duration
        if spec.renew_time is not None:
            times.append(_epoch(spec.renew_time))
    return times, duration


def readiness(
    node: str, history: Sequence[Seen], start: float
) -> NodeReadiness:
    """Whether ``node`` was Ready when the window opened, and every
    other Ready status it reported from then on."""
    at_start = True
    others: list[str] = []
    for seen in history:
        status = _ready_status(seen.obj) if seen.kind != "DELETED" else "gone"
        if seen.at <= start or seen.kind == "LISTED":
            at_start = status == "True"
            continue
        if status != "True" and status not in others:
            others.append(status)
    return NodeReadiness(node, at_start, tuple(others))


def not_ready_during(found: Sequence[NodeReadiness]) -> list[str]:
    """``w1 (Ready=Unknown)`` for each node Ready at the start that
    reported anything else later."""
    return [
        f"{r.node} (Ready={'/'.join(r.not_ready)})"
        for r in found
        if r.ready_at_start and r.not_ready
    ]


@dataclass
class Observers:
    """The two watches of one LOAD-02 run."""

    leases: Watcher
    nodes: Watcher


@contextlib.contextmanager
def observe_heartbeats(cluster: Cluster) -> Iterator[Observers]:
    """Watch every node Lease and every Node for the block's duration.

    Raises:
        ApiException: the first list failed (the watch then retries).
    """
    with (
        Watcher(
            cluster.coordination().list_namespaced_lease, LEASE_NAMESPACE
        ) as leases,
        Watcher(cluster.core().list_node) as nodes,
    ):
        yield Observers(leases, nodes)


def _ready_status(node: KubeObject) -> str:
    conditions = (node.status.conditions if node.status else None) or []
    for condition in conditions:
        if condition.type == "Ready":
            return str(condition.status)
    return "missing"


def _epoch(when: datetime) -> float:
    """A timezone-aware (or UTC-naive) time as epoch seconds."""
    if when.tzinfo is None:
        return calendar.timegm(when.timetuple()) + when.microsecond / 1e6
    return when.timestamp()
