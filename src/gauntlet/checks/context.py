"""What a check needs: the cluster, its shape, node access and a sink.

Checks never import pytest: a check that cannot see what it needs raises
``CheckSkipped`` with the reason, which the suites turn into a skip and the
report keeps.

A guarantee is proved in parts. A check runs each part in
``with ctx.part(name):``; a part that cannot be observed is recorded as
unobserved with its reason and the check goes on, a violation found in a
part is kept, and ``ctx.conclude(step)`` raises every violation found
(never hidden by a later skip), skips only when no part could be
observed, and otherwise passes with the unobserved parts named.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from gauntlet.cluster.client import Cluster
from gauntlet.cluster.discovery import ClusterTopology
from gauntlet.errors import GuaranteeViolated, NodeAccessError, Unobservable
from gauntlet.images import workload_image
from gauntlet.nodes.base import NodeAccess
from gauntlet.nodes.helper_pods import IMPOSSIBLE
from gauntlet.observe.etcd import EtcdClient
from gauntlet.reporting import attach
from gauntlet.reporting.parts import PartResult, PartStatus
from gauntlet.reporting.timeline import Timeline

CheckSkipped = Unobservable
"""A check that cannot observe what it needs skips with the reason."""


@dataclass(frozen=True)
class Images:
    """Images the checks start (``gauntlet.images``), overridable."""

    workload: str
    """agnhost: ``netexec`` serves; sh, nc, kill and sleep for clients."""

    @classmethod
    def from_env(cls) -> Images:
        return cls(workload=workload_image())


Span = tuple[float, float]
Recorder = Callable[[str, float, str, "float | None", "Span | None"], object]
PartSink = Callable[[PartResult], object]


class Part:
    """One part being observed: findings go here, not into an exception,
    so that later parts still run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.findings: list[str] = []

    def finding(self, text: str) -> None:
        """A violation of the guarantee found in this part."""
        self.findings.append(text)


@dataclass
class CheckContext:
    """Everything a check may use; ``nodes`` is None without node access."""

    cluster: Cluster
    topology: ClusterTopology
    namespace: str
    images: Images
    nodes: NodeAccess | None = None
    nodes_unavailable: str = "node access is not configured"
    record: Recorder = field(default=lambda *_a: None)
    measured: dict[str, float] = field(default_factory=dict)
    record_part: PartSink = field(default=lambda _p: None)
    parts: list[PartResult] = field(default_factory=list)
    """Every part reported on this context, in order."""
    _judged: int = field(default=0, repr=False)
    """How many of ``parts`` an earlier ``conclude`` already judged."""
    probe_namespace: str = ""
    """The run's namespace for write probes that outlive a test's
    namespace (``kg-probes-<run id>``, recorded in the fault ledger by the
    fixture that names it); empty: probes go to ``namespace``."""
    _etcd: EtcdClient | None = field(default=None, repr=False)
    timeline: Timeline = field(default_factory=lambda: Timeline("timeline"))
    """What happened during the check on one time axis (its plot)."""

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[Part]:
        """Observe one part of the guarantee.

        ``Unobservable`` (``CheckSkipped``) and impossible node access
        inside make the part unobserved with the reason; a
        ``GuaranteeViolated`` inside becomes one of its findings. Any
        other error propagates: an error is never a verdict.
        """
        part = Part(name)
        try:
            yield part
        except Unobservable as exc:
            self._add(name, "unobserved", str(exc), part.findings)
            return
        except NodeAccessError as exc:
            if not str(exc).startswith(IMPOSSIBLE):
                raise
            self._add(name, "unobserved", str(exc), part.findings)
            return
        except GuaranteeViolated as exc:
            part.finding(str(exc))
        status: PartStatus = "violated" if part.findings else "checked"
        self._add(name, status, "", part.findings)

    def unobserved(self, name: str, reason: str) -> None:
        """A part that could not be observed (zero samples, hidden)."""
        self._add(name, "unobserved", reason, [])

    def not_applicable(self, name: str, reason: str) -> None:
        """A part that does not apply to this cluster's shape, with the
        documented reason (for example: no etcd on a managed cluster)."""
        self._add(name, "not-applicable", reason, [])

    def conclude(self, step: str) -> None:
        """End a check that ran in parts (and start the next one afresh:
        a sabotage runs the same check again on the same context).

        Raises:
            GuaranteeViolated: every finding of every part.
            CheckSkipped: no part could be observed (with the reasons).
        """
        parts = self.parts[self._judged :]  # this run of the check only
        self._judged = len(self.parts)
        findings = [f for p in parts for f in p.findings]
        if findings:
            raise violated(step, "; ".join(findings))
        seen = [p for p in parts if p.status == "checked"]
        if parts and not seen:
            reasons = "; ".join(
                f"{p.name}: {p.reason}"
                for p in parts
                if p.status == "unobserved"
            )
            if reasons:
                raise CheckSkipped(f"{step}: nothing observed: {reasons}")

    def _add(
        self, name: str, status: PartStatus, reason: str, findings: list[str]
    ) -> None:
        result = PartResult(name, status, reason, tuple(findings))
        self.parts.append(result)
        self.record_part(result)

    def measure(
        self,
        name: str,
        value: float,
        unit: str,
        bound: float | None = None,
        *,
        since: float | None = None,
        span: Span | None = None,
    ) -> float:
        """Record a measured value (and keep it for the caller).

        ``since`` (epoch seconds): a time in seconds counted from that
        moment, so the record spans ``since`` to ``since + value``;
        ``span``: the epoch seconds a value was measured from and to.
        A spanned value marks its end on the check's timeline.
        """
        if since is not None:
            span = (since, since + value)
        self.measured[name] = value
        self.record(name, value, unit, bound, span)
        return value

    def require_nodes(self, why: str) -> NodeAccess:
        """Node access, or skip with the reason it is unavailable."""
        if self.nodes is None:
            raise CheckSkipped(f"{why}: {self.nodes_unavailable}")
        return self.nodes

    def fresh(self) -> CheckContext:
        """The same cluster, node access and sinks, with no parts,
        measurements or etcd placements: a check run again (after a
        sabotage is restored) is judged on its own observations."""
        return dataclasses.replace(
            self, parts=[], measured={}, _etcd=None, _judged=0
        )

    def etcd(self, why: str) -> EtcdClient:
        """The cluster's etcd client (one per check: placements are
        found once). ``why`` names the step for the skip message.

        Raises:
            CheckSkipped: no node access and no etcd static pod.
        """
        if self._etcd is None:
            self._etcd = EtcdClient(self.cluster, self.topology, self.nodes)
        try:
            self._etcd.placements()
        except Unobservable as exc:
            reason = str(exc)
            if self.nodes is None:
                reason += f" ({self.nodes_unavailable})"
            raise CheckSkipped(f"{why}: {reason}") from None
        return self._etcd

    def evidence(self, name: str, obj: object) -> None:
        """Attach evidence to the report (no-op outside allure)."""
        if isinstance(obj, str):
            attach.attach_text(name, obj)
        else:
            attach.attach_json(name, obj)


def violated(step: str, detail: str) -> GuaranteeViolated:
    """A violation with the short, stable ``step: detail`` message form."""
    return GuaranteeViolated(f"{step}: {detail}")
