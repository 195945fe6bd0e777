"""What a check needs: the cluster, its shape, node access and a sink.

Checks never import pytest: a check that cannot see what it needs raises
``CheckSkipped`` with the reason, which the suites turn into a skip and the
report keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gauntlet.cluster.client import Cluster
from gauntlet.cluster.discovery import ClusterTopology
from gauntlet.errors import GuaranteeViolated, Unobservable
from gauntlet.images import workload_image
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient
from gauntlet.reporting import attach

CheckSkipped = Unobservable
"""A check that cannot observe what it needs skips with the reason."""


@dataclass(frozen=True)
class Images:
    """Images the checks start, overridable for clusters without the lab's."""

    workload: str
    """Busybox with sh, httpd (``/bin/serve``), ``http-get``, nc, nslookup."""

    @classmethod
    def from_env(cls) -> Images:
        return cls(workload=workload_image())


Recorder = Callable[[str, float, str, "float | None"], object]


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
    _etcd: EtcdClient | None = field(default=None, repr=False)

    def measure(
        self, name: str, value: float, unit: str, bound: float | None = None
    ) -> float:
        """Record a measured value (and keep it for the caller)."""
        self.measured[name] = value
        self.record(name, value, unit, bound)
        return value

    def require_nodes(self, why: str) -> NodeAccess:
        """Node access, or skip with the reason it is unavailable."""
        if self.nodes is None:
            raise CheckSkipped(f"{why}: {self.nodes_unavailable}")
        return self.nodes

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
