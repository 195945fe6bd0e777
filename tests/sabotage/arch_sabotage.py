"""Sabotage tools shared by the ARCH-06..16 sabotage tests.

Every tool that breaks something registers its undo on the caller's
``restore`` stack right after breaking, so a failing test still restores
the lab (LIFO).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import threading
import time
from datetime import UTC, datetime
from typing import Self

import urllib3
import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.arch._apiservers import ApiServer
from gauntlet.checks.arch.front_door import ANONYMOUS_PATH, anonymous_pool
from gauntlet.checks.arch.health import probe_api_server
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.workloads import CONTROL_PLANE_TAINT, node_is_ready
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.observe.host import components

RECOVERY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.5
KUBELET_CONFIG = "kubelet-config.yaml"
ABAC_FILE = "kg-sabotage-abac.jsonl"
ANONYMOUS_READS = {
    "apiVersion": "abac.authorization.kubernetes.io/v1beta1",
    "kind": "Policy",
    "spec": {
        "group": "system:unauthenticated",
        "namespace": "*",
        "resource": "*",
        "apiGroup": "*",
        "readonly": True,
    },
}
"""An ABAC rule letting anonymous users read everything. (AlwaysAllow
cannot show it: kube-apiserver turns anonymous auth off beside it.)"""
ROGUE_SCHEDULER_PORT = 10261
ROGUE_LIFETIME_S = 300
ROGUE_SETTLE_S = 3.0


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


# -- one API server of three ---------------------------------------------------


def allow_anonymous_reads_on(
    faults: LabNodeAccess,
    cluster: Cluster,
    server: ApiServer,
    restore: contextlib.ExitStack,
) -> None:
    """Restart ``server``'s kube-apiserver with an ABAC rule before RBAC
    that lets anonymous users read: only that server answers them 200.
    Restore puts its argv back and waits until it refuses them again."""
    node = server.name
    policy = faults.lab.paths.node(node).etc_kubernetes / ABAC_FILE
    restore.callback(policy.unlink, missing_ok=True)
    policy.write_text(json.dumps(ANONYMOUS_READS) + "\n")
    old = faults.argv(node, "kube-apiserver")
    restore.callback(wait_anonymous_answered, cluster, [server], {401, 403})
    restore.callback(wait_api_server_ready, cluster, server)
    restore.callback(faults.set_argv, node, "kube-apiserver", old)
    faults.set_flags(
        node,
        "kube-apiserver",
        {
            "authorization-mode": "Node,ABAC,RBAC",
            "authorization-policy-file": f"/etc/kubernetes/{ABAC_FILE}",
        },
    )
    wait_api_server_ready(cluster, server)
    wait_anonymous_answered(cluster, [server], {200})


def wait_api_server_ready(cluster: Cluster, server: ApiServer) -> None:
    progress.wait_until(
        f"{server.label} ready",
        lambda: probe_api_server(cluster, server, "/readyz")[0] == 200,
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


def wait_anonymous_answered(
    cluster: Cluster, servers: list[ApiServer], statuses: set[int]
) -> None:
    """Each API server applies RBAC and flag changes on its own, a moment
    after the write or restart: wait until each answers as wanted."""

    def answered() -> bool:
        with anonymous_pool(cluster) as pool:
            for server in servers:
                try:
                    resp = pool.request("GET", server.url + ANONYMOUS_PATH)
                except urllib3.exceptions.HTTPError:
                    return False  # restarting
                if resp.status not in statuses:
                    return False
        return True

    progress.wait_until(
        f"anonymous reads answered {sorted(statuses)} by "
        + ", ".join(s.name for s in servers),
        answered,
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )


# -- masters ------------------------------------------------------------------


def strip_control_plane_role(
    cluster: Cluster, node: str, restore: contextlib.ExitStack
) -> None:
    """Remove the control-plane label and taint from ``node`` (what
    ``kubectl label node X role-`` and ``kubectl taint node X role-`` do);
    restore adds both back."""
    core = cluster.core()
    restore.callback(_give_control_plane_role, core, node)
    taints = core.read_node(node).spec.taints or []
    kept = [
        {"key": t.key, "value": t.value, "effect": t.effect}
        for t in taints
        if t.key != CONTROL_PLANE_TAINT
    ]
    core.patch_node(
        node,
        {
            "metadata": {"labels": {CONTROL_PLANE_TAINT: None}},
            "spec": {"taints": kept},
        },
    )


def _give_control_plane_role(core: client.CoreV1Api, node: str) -> None:
    taints = core.read_node(node).spec.taints or []
    wanted = [
        {"key": t.key, "value": t.value, "effect": t.effect} for t in taints
    ]
    if not any(t["key"] == CONTROL_PLANE_TAINT for t in wanted):
        wanted.append({"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"})
    core.patch_node(
        node,
        {
            "metadata": {"labels": {CONTROL_PLANE_TAINT: ""}},
            "spec": {"taints": wanted},
        },
    )


# -- a scheduler without leader election --------------------------------------


def start_unelected_scheduler(
    faults: LabNodeAccess, node: str, restore: contextlib.ExitStack
) -> int:
    """Start a second kube-scheduler on ``node`` with the running one's
    binary and kubeconfig, ``--leader-elect=false`` and its own port,
    detached and self-limited; return its PID. Restore stops it."""
    argv = [
        a
        for a in faults.argv(node, "kube-scheduler")
        if not a.startswith(("--leader-elect", "--secure-port"))
    ]
    argv += ["--leader-elect=false", f"--secure-port={ROGUE_SCHEDULER_PORT}"]
    marker = f"secure-port={ROGUE_SCHEDULER_PORT}"
    restore.callback(stop_marked, faults, node, marker)
    faults.exec(
        node,
        [
            "sh",
            "-c",
            f"nohup timeout {ROGUE_LIFETIME_S} {shlex.join(argv)} "
            ">/dev/null 2>&1 </dev/null &",
        ],
    )
    pid = progress.wait_until(
        f"unelected kube-scheduler on {node} running",
        lambda: unelected_scheduler(faults, node),
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
    time.sleep(ROGUE_SETTLE_S)  # a scheduler that cannot start exits now
    assert unelected_scheduler(faults, node) == pid, (
        f"the unelected kube-scheduler on {node} (pid {pid}) exited"
    )
    return pid


def unelected_scheduler(faults: LabNodeAccess, node: str) -> int | None:
    """The PID of a kube-scheduler running with --leader-elect=false."""
    found = [
        c.pid
        for c in components(faults, node)
        if c.name == "kube-scheduler" and c.flag("leader-elect") == "false"
    ]
    return found[0] if found else None


def stop_marked(faults: LabNodeAccess, node: str, marker: str) -> None:
    """Terminate the processes whose command line holds ``marker`` and
    wait until they are gone."""

    def pids() -> list[str]:
        out = faults.exec(node, ["pgrep", "-f", marker], check=False)
        return out.stdout.split()

    found = pids()
    if found:
        faults.exec(node, ["kill", *found], check=False)
    progress.wait_until(
        f"processes marked {marker} on {node} gone",
        lambda: not pids(),
        RECOVERY_TIMEOUT_S,
        POLL_INTERVAL_S,
    )
