"""``PodNodeAccess``: reach any cluster's hosts through privileged pods.

Needs only RBAC to create privileged pods and exec into them, so it works
on clusters the runner cannot SSH into. Everything goes through the API
server and the node's kubelet, so a fault that may cut that path
(stopping the kubelet or an API server, partitioning the node) is handed
to the host with its undo (``restores``): at the planned time when the
caller gives ``for_s``, and always after ``max_outage_s``, the dead
man's switch, unless ``start``/``heal`` comes first.
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
from gauntlet.nodes.base import DEFAULT_TIMEOUT_S, sh_on
from gauntlet.nodes.exec_stream import OpenLost, StreamLost
from gauntlet.nodes.helper_pods import HelperPods
from gauntlet.nodes.parse import PS_ARGV, SS_ARGV, parse_ps, parse_ss
from gauntlet.nodes.restores import (
    RESTORE_MARGIN_S,
    PlannedRestores,
    cancel_script,
)
from gauntlet.nodes.types import PARTITION, Connection, Process, Restore

__all__ = ["DEFAULT_MAX_OUTAGE_S", "PodNodeAccess"]

DEFAULT_MAX_OUTAGE_S = 600.0
REACH_POLL_S = 2.0
PLANNED_EXEC_TIMEOUT_S = 10.0
"""How long a planned fault's exec is awaited: one that cuts its own
stream (a partition drops it silently) reports through the node's log."""


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
        self._restores = PlannedRestores(deadman_s=self.max_outage_s)

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

    def stop(
        self,
        node: str,
        component: str,
        for_s: float | None = None,
        now: bool = False,
    ) -> None:
        op: hc.ComponentOp = "halt" if now else "stop"
        self._cutting_own_path(op, node, component, for_s)

    def start(self, node: str, component: str) -> None:
        script = cancel_script(node, component) + hc.component_script(
            "start", component
        )
        self._when_reachable(
            node, lambda: self._checked(node, f"start {component}", script)
        )

    def kill(
        self,
        node: str,
        component: str,
        sig: int = signal.SIGKILL,
        for_s: float | None = None,
    ) -> None:
        self._cutting_own_path("kill", node, component, for_s, sig)

    def argv(self, node: str, component: str) -> list[str]:
        script = hc.argv_script(component)
        out = self._checked(node, f"reading the argv of {component}", script)
        return [line for line in out.splitlines() if line]

    def set_argv(self, node: str, component: str, argv: list[str]) -> None:
        raise NodeAccessError(
            f"changing the flags of {component} on {node} is not done "
            "through helper pods: they stop, start, signal and cut off, but "
            "edit no host's configuration"
        )

    def partition(
        self, node: str, peers: list[str], for_s: float | None = None
    ) -> None:
        ips = [self._address(peer) for peer in peers]
        plan = self._restores.plan(node, PARTITION, for_s)
        script = self._restores.script(
            plan, hc.heal_script(), hc.partition_script(ips)
        )
        what = f"partitioning from {', '.join(peers)}"
        self._fault(node, what, script, for_s is not None)

    def heal(self, node: str) -> None:
        script = cancel_script(node, PARTITION) + hc.heal_script()
        self._when_reachable(
            node, lambda: self._checked(node, "healing partitions", script)
        )

    def wait_restored(
        self, node: str, what: str, margin_s: float = RESTORE_MARGIN_S
    ) -> Restore:
        return self._restores.wait(sh_on(self, node), node, what, margin_s)

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
        for_s: float | None,
        sig: int = signal.SIGKILL,
    ) -> None:
        """Stop or kill ``component``, armed so that the host undoes it
        (a kill only with ``for_s``: a crash is its supervisor's).

        Stopping or killing the kubelet closes the very exec stream that
        asked for it; the request reached the host before the stream
        died.
        """
        script = hc.component_script(op, component, sig)
        if op in ("stop", "halt") or for_s is not None:
            undo = hc.component_script("start", component)
            plan = self._restores.plan(node, component, for_s)
            script = self._restores.script(plan, undo, script)
        try:
            self._fault(node, f"{op} {component}", script, for_s is not None)
        except NodeAccessError:
            if component != "kubelet":
                raise

    def _fault(self, node: str, what: str, script: str, planned: bool) -> None:
        """Run a fault's script. A planned fault's stream may die with the
        path it cuts: the host has its plan, and its log says later
        (``wait_restored``) whether the fault ran."""
        timeout = PLANNED_EXEC_TIMEOUT_S if planned else DEFAULT_TIMEOUT_S
        try:
            self._checked(node, what, script, timeout)
        except (StreamLost, OpenLost):
            if not planned:
                raise

    def _checked(
        self,
        node: str,
        what: str,
        script: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> str:
        proc = self.run(node, ["sh", "-c", script], timeout_s)
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


def _failed(
    verb: str, resource: str, node: str, proc: subprocess.CompletedProcess[str]
) -> ClusterOperationFailed:
    output = (proc.stderr or proc.stdout).strip().splitlines()
    last = output[-1][:200] if output else f"exit code {proc.returncode}"
    what = f"{resource} on node {node}" if resource else f"on node {node}"
    return ClusterOperationFailed(verb, what, None, last)
