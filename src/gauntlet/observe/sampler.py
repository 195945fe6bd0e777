"""The cluster as seen once a second during a fault, for its timeline.

A background thread asks the API for the nodes, the leader leases of
kube-controller-manager and kube-scheduler, and the test's pods. Each
answer becomes points (nodes Ready, whether the API answered) and each
change an event (a node NotReady, a new leader, a pod restarted). It
judges nothing: checks keep their own watches; this draws the picture
around them. A request that fails is a point too (the API did not
answer within ``TIMEOUT_S``), never a silent gap.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.observe import objects
from gauntlet.reporting.timeline import Timeline

__all__ = [
    "API_PANEL",
    "LEASES",
    "NODES_PANEL",
    "ClusterSampler",
]

PERIOD_S = 1.0
TIMEOUT_S = 2.0
NODES_PANEL = "nodes Ready (1) or not (0)"
API_PANEL = "API answered the sampler"
LEASES = ("kube-controller-manager", "kube-scheduler")
_FAILED = (ApiException, urllib3.exceptions.HTTPError, OSError)


class ClusterSampler:
    """Samples into ``timeline`` while the ``with`` block runs."""

    def __init__(
        self, cluster: Cluster, namespace: str, timeline: Timeline
    ) -> None:
        self._cluster = cluster
        self._namespace = namespace
        self._timeline = timeline
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="timeline-sampler", daemon=True
        )
        self._ready: dict[str, bool] = {}
        self._holders: dict[str, str] = {}
        self._restarts: dict[str, int] = {}
        self.error = ""
        """Why sampling stopped early (an unexpected error), else empty."""

    def __enter__(self) -> ClusterSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_S * 4)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self._once()
            except Exception as exc:  # noqa: BLE001 - said on the plot
                self.error = f"{type(exc).__name__}: {exc}"
                return
            self._stop.wait(max(0.0, PERIOD_S - (time.monotonic() - began)))

    def _once(self) -> None:
        at = time.time()
        answered = self._nodes(at)
        self._timeline.sample(
            API_PANEL,
            "list nodes answered",
            float(answered),
            at,
            "steps",
            share=True,
        )
        if not answered:
            return  # the rest would fail the same way, one timeout each
        self._leases(at)
        if self._namespace:
            self._pods(at)

    def _nodes(self, at: float) -> bool:
        try:
            nodes = self._cluster.core().list_node(_request_timeout=TIMEOUT_S)
        except _FAILED:
            return False
        for node in nodes.items:
            name = objects.name(node)
            ready = _ready(node)
            self._timeline.sample(
                NODES_PANEL, name, float(ready), at, "steps", share=True
            )
            before = self._ready.get(name)
            if before is not None and before != ready:
                word = "Ready" if ready else "NotReady"
                self._timeline.event(f"{name} {word}", at)
            self._ready[name] = ready
        return True

    def _leases(self, at: float) -> None:
        api = self._cluster.coordination()
        for name in LEASES:
            try:
                lease = api.read_namespaced_lease(
                    name, "kube-system", _request_timeout=TIMEOUT_S
                )
            except _FAILED:
                continue  # absent on managed clusters; a blip is not news
            spec = lease.spec
            held = (spec.holder_identity if spec else None) or ""
            holder = held.split("_", 1)[0]
            before = self._holders.get(name)
            if before is not None and holder and holder != before:
                self._timeline.event(f"{name} leader: {holder}", at)
            if holder:
                self._holders[name] = holder

    def _pods(self, at: float) -> None:
        try:
            pods = self._cluster.core().list_namespaced_pod(
                self._namespace, _request_timeout=TIMEOUT_S
            )
        except _FAILED:
            return
        for pod in pods.items:
            name = objects.name(pod)
            count = objects.restarts(pod)
            before = self._restarts.get(name)
            if before is not None and count > before:
                self._timeline.event(f"{name} restarted", at)
            self._restarts[name] = count


def _ready(node: Any) -> bool:  # noqa: ANN401 - a V1Node
    return any(
        c.type == "Ready" and c.status == "True"
        for c in node.status.conditions or []
    )
