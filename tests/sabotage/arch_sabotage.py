"""Sabotage tools shared by the ARCH-06..16 sabotage tests.

Every tool that breaks something registers its undo on the caller's
``restore`` stack right after breaking, so a failing test still restores
the lab (LIFO).
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import Self

import urllib3
import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.context import CheckContext
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster

RECOVERY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.5
KUBELET_CONFIG = "kubelet-config.yaml"


def fresh(ctx: CheckContext) -> CheckContext:
    """The same lab context with no parts or measurements yet.

    A check concludes on every part its context holds, so a check run a
    second time (after the restore) needs a context of its own, or the
    first run's findings would fail it again.
    """
    return ctx.fresh()


def stop_on_control_planes(
    faults: LabNodeAccess,
    cluster: Cluster,
    component: str,
    restore: contextlib.ExitStack,
) -> list[str]:
    """Stop ``component`` on every control-plane node; restore starts them
    and waits until one instance holds and renews the leader Lease."""
    topo = faults.lab.topology()
    assert topo is not None
    names = [n.name for n in topo.control_planes]
    restore.callback(wait_leader_renewing, cluster, component)
    for name in names:
        faults.stop(name, component)
        restore.callback(faults.start, name, component)
    return names


def wait_leader_renewing(cluster: Cluster, component: str) -> None:
    """Wait until the component's kube-system Lease is renewed afresh."""
    since = datetime.now(UTC)
    coordination = cluster.coordination()

    def renewed() -> bool:
        lease = coordination.read_namespaced_lease(component, "kube-system")
        renew = lease.spec.renew_time
        return renew is not None and renew > since

    progress.wait_until(
        f"{component} leader renewing", renewed, RECOVERY_TIMEOUT_S, 1.0
    )


def wait_node_ready(cluster: Cluster, node: str) -> None:
    core = cluster.core()
    progress.wait_until(
        f"node {node} Ready",
        lambda: node_is_ready(core.read_node(node)),
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


def restart_kubelet(faults: LabNodeAccess, cluster: Cluster, node: str) -> None:
    """Stop and start the kubelet, then wait for a fresh node Lease."""
    faults.stop(node, "kubelet")
    since = datetime.now(UTC)
    faults.start(node, "kubelet")
    coordination = cluster.coordination()

    def renewed() -> bool:
        lease = coordination.read_namespaced_lease(node, "kube-node-lease")
        renew = lease.spec.renew_time
        return renew is not None and renew > since

    progress.wait_until(
        f"kubelet on {node} renewing", renewed, RECOVERY_TIMEOUT_S, 0.5
    )
    wait_node_ready(cluster, node)


def set_max_pods(
    lab: LabCluster,
    faults: LabNodeAccess,
    cluster: Cluster,
    node: str,
    max_pods: int,
    restore: contextlib.ExitStack,
) -> None:
    """Set the kubelet's ``maxPods`` on ``node`` and wait until the node's
    allocatable shows it; restore puts the old file back the same way."""
    path = lab.paths.node(node).etc_kubernetes / KUBELET_CONFIG
    original = path.read_text()
    config = yaml.safe_load(original)
    old = int(config.get("maxPods", 110))
    config["maxPods"] = max_pods
    restore.callback(_wait_allocatable_pods, cluster, node, old)
    restore.callback(restart_kubelet, faults, cluster, node)
    restore.callback(path.write_text, original)
    path.write_text(yaml.safe_dump(config))
    restart_kubelet(faults, cluster, node)
    _wait_allocatable_pods(cluster, node, max_pods)


def _wait_allocatable_pods(cluster: Cluster, node: str, pods: int) -> None:
    core = cluster.core()

    def shows() -> bool:
        allocatable = core.read_node(node).status.allocatable or {}
        return str(allocatable.get("pods")) == str(pods)

    progress.wait_until(
        f"node {node} allocatable pods {pods}",
        shows,
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


class RogueClient:
    """A rogue controller: a thread acting on a namespace's pods next to the
    real controllers until the test stops it."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.core = cluster.core()
        self.namespace = namespace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), f"{type(self).__name__} runs on"

    def _run(self) -> None:
        raise NotImplementedError


class RogueBinder(RogueClient):
    """A fake scheduler: binds every pending pod of a namespace to one node,
    ignoring requests, selectors, affinity and pod limits."""

    def __init__(self, cluster: Cluster, namespace: str, node: str) -> None:
        super().__init__(cluster, namespace)
        self.node = node
        self.bound: list[str] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    self.core.list_namespaced_pod,
                    self.namespace,
                    timeout_seconds=2,
                ):
                    if self._stop.is_set():
                        break
                    pod = event["object"]
                    if event["type"] != "DELETED" and not pod.spec.node_name:
                        self._bind(pod.metadata.name)
            except (ApiException, urllib3.exceptions.HTTPError, OSError):
                time.sleep(POLL_INTERVAL_S)  # a broken watch: open another

    def _bind(self, pod: str) -> None:
        binding = client.V1Binding(
            metadata=client.V1ObjectMeta(name=pod),
            target=client.V1ObjectReference(
                api_version="v1", kind="Node", name=self.node
            ),
        )
        try:
            self.core.create_namespaced_pod_binding(
                pod, self.namespace, binding, _preload_content=False
            )
        except ApiException as exc:
            if exc.status != 409:  # already bound
                raise
        self.bound.append(pod)


def rogue_scheduler(
    faults: LabNodeAccess,
    cluster: Cluster,
    namespace: str,
    node: str,
    restore: contextlib.ExitStack,
) -> RogueBinder:
    """Stop every kube-scheduler and bind the namespace's pods to ``node``."""
    stop_on_control_planes(faults, cluster, "kube-scheduler", restore)
    binder = RogueBinder(cluster, namespace, node).start()
    restore.callback(binder.stop)
    return binder
