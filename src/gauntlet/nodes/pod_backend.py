"""``PodNodeAccess``: reach any cluster's hosts through privileged pods.

Needs only RBAC to create privileged pods and exec into them, so it works
on clusters the runner cannot SSH into. Everything goes through the API
server and the node's kubelet: a fault that cuts that path (stopping the
kubelet, partitioning the node) is undone by the host itself after
``max_outage_s`` (see ``host_commands``).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.errors import ClusterOperationFailed, NodeAccessError
from gauntlet.nodes import host_commands as hc
from gauntlet.nodes import supervisor_wire
from gauntlet.nodes.base import DEFAULT_TIMEOUT_S
from gauntlet.nodes.helper_pods import HelperPods
from gauntlet.nodes.parse import PS_ARGV, SS_ARGV, parse_ps, parse_ss
from gauntlet.nodes.types import Connection, Process

__all__ = ["DEFAULT_MAX_OUTAGE_S", "PodNodeAccess"]

DEFAULT_MAX_OUTAGE_S = 600.0
REACH_POLL_S = 2.0


class PodNodeAccess:
    """Node access through one privileged helper pod per node."""

    def __init__(
        self,
        cluster: Cluster,
        run_id: str,
        target_params: dict[str, str],
        image: str | None = None,
        max_outage_s: float | None = None,
    ) -> None:
        self._cluster = cluster
        self._pods = HelperPods(cluster, run_id, image)
        self._target_params = dict(target_params)
        self._run_id = run_id
        self.max_outage_s = max_outage_s or float(
            os.environ.get("KUBE_GAUNTLET_POD_MAX_OUTAGE_S")
            or DEFAULT_MAX_OUTAGE_S
        )

    @property
    def kind(self) -> str:
        return "pod"

    def check(self) -> None:
        """Raise ``NodeAccessError`` now if RBAC forbids helper pods."""
        self._pods.check_permissions()

    def rollback_params(self) -> dict[str, str]:
        return {
            "backend": "pod",
            "run_id": self._run_id,
            "image": self._pods.image,
            **self._target_params,
        }

    def run(
        self,
        node: str,
        argv: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        return self._pods.exec(node, hc.on_host(argv), timeout_s)

    def stop(self, node: str, component: str) -> None:
        self._cutting_own_path("stop", node, component)

    def start(self, node: str, component: str) -> None:
        self._when_reachable(
            node, lambda: self._component("start", node, component)
        )

    def kill(
        self, node: str, component: str, sig: int = signal.SIGKILL
    ) -> None:
        self._cutting_own_path("kill", node, component, sig)

    def argv(self, node: str, component: str) -> list[str]:
        script = hc.argv_script(component, _socket(node))
        out = self._checked(node, f"reading the argv of {component}", script)
        return [line for line in out.splitlines() if line]

    def set_argv(self, node: str, component: str, argv: list[str]) -> None:
        script = hc.set_argv_script(component, argv, _socket(node))
        self._checked(node, f"setting the argv of {component}", script)

    def partition(self, node: str, peers: list[str]) -> None:
        ips = [self._address(peer) for peer in peers]
        script = hc.partition_script(node, ips, self.max_outage_s)
        self._checked(node, f"partitioning from {', '.join(peers)}", script)

    def heal(self, node: str) -> None:
        self._when_reachable(
            node,
            lambda: self._checked(
                node, "healing partitions", hc.heal_script(node)
            ),
        )

    def read_file(self, node: str, path: str) -> str:
        proc = self.run(node, ["cat", "--", path])
        if proc.returncode != 0:
            raise _failed("read", f"file {path}", node, proc)
        return proc.stdout

    def connections(self, node: str) -> list[Connection]:
        proc = self.run(node, SS_ARGV)
        if proc.returncode != 0:
            raise _failed("list", "connections", node, proc)
        return parse_ss(proc.stdout)

    def processes(self, node: str) -> list[Process]:
        proc = self.run(node, PS_ARGV)
        if proc.returncode != 0:
            raise _failed("list", "processes", node, proc)
        return parse_ps(proc.stdout)

    def cleanup(self) -> None:
        self._pods.delete_all()

    def _when_reachable(self, node: str, action: Callable[[], object]) -> None:
        """Run ``action``; if the exec path is cut (the kubelet stopped, the
        node partitioned), wait for the host's own undo to restore it, then
        run it again (undo actions are idempotent)."""
        try:
            action()
            return
        except NodeAccessError as first:
            deadline = time.monotonic() + self.max_outage_s + 30
            while time.monotonic() < deadline:
                time.sleep(REACH_POLL_S)
                try:
                    self.run(node, ["true"], timeout_s=10)
                except NodeAccessError:
                    continue
                action()
                return
            raise first

    def _cutting_own_path(
        self,
        op: hc.ComponentOp,
        node: str,
        component: str,
        sig: int = signal.SIGKILL,
    ) -> None:
        """Stopping or killing the kubelet closes the very exec stream that
        asked for it; the request reached the host before the stream died."""
        try:
            self._component(op, node, component, sig)
        except NodeAccessError:
            if component != "kubelet":
                raise

    def _component(
        self,
        op: hc.ComponentOp,
        node: str,
        component: str,
        sig: int = signal.SIGKILL,
    ) -> None:
        script = hc.component_script(
            op, node, component, _socket(node), sig, self.max_outage_s
        )
        self._checked(node, f"{op} {component}", script)

    def _checked(self, node: str, what: str, script: str) -> str:
        proc = self.run(node, ["sh", "-c", script])
        if proc.returncode != 0:
            raise _failed(what, "", node, proc)
        return proc.stdout

    def _address(self, peer: str) -> str:
        """A peer's InternalIP; addresses are passed through."""
        try:
            return str(ipaddress.ip_address(peer))
        except ValueError:
            pass
        try:
            node = self._cluster.core().read_node(peer)
        except ApiException as exc:
            raise ClusterOperationFailed(
                "get", f"node {peer}", None, f"{exc.status} {exc.reason}"
            ) from exc
        for address in (node.status.addresses if node.status else None) or []:
            if address.type == "InternalIP":
                return str(address.address)
        raise NodeAccessError(f"node {peer} reports no InternalIP to cut off")


def _socket(node: str) -> str:
    """Where a lab node's supervisor listens, if this host runs the lab."""
    return str(supervisor_wire.node_socket(node))


def _failed(
    verb: str, resource: str, node: str, proc: subprocess.CompletedProcess[str]
) -> ClusterOperationFailed:
    output = (proc.stderr or proc.stdout).strip().splitlines()
    last = output[-1][:200] if output else f"exit code {proc.returncode}"
    what = f"{resource} on node {node}" if resource else f"on node {node}"
    return ClusterOperationFailed(verb, what, None, last)
