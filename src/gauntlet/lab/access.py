"""``LabNodeAccess``: the one way to reach the lab's nodes.

The lab's ``NodeAccess`` backend, and what the project's own tests do to
lab nodes: stop, start and kill any component, partition a node from
peers and heal, read a node's files, processes and TCP connections, and
(lab only) read a component's supervisor record, change its restart
policy or flags, and exec with ``check``. The runner host owns the lab's
namespaces and supervisors, so nothing is created on the cluster and
every operation works while the API server is down. Errors name the node
and component; rollback is the caller's job (the fault ledger records
the inverse before injecting). etcd is read with
``gauntlet.observe.etcd``.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gauntlet.errors import LabError
from gauntlet.lab import network
from gauntlet.lab import node as lab_node
from gauntlet.lab import supervisor_client as sup
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.topology import LabNode
from gauntlet.nodes.base import DEFAULT_TIMEOUT_S
from gauntlet.nodes.parse import PS_ARGV, SS_ARGV, parse_ps, parse_ss
from gauntlet.nodes.types import Connection, Process

__all__ = ["LabNodeAccess"]


class LabNodeAccess:
    """Node access, faults and observations on the nodes of one lab."""

    def __init__(self, lab: LabCluster | None = None) -> None:
        self.lab = lab or LabCluster()

    @property
    def kind(self) -> str:
        return "lab"

    def rollback_params(self) -> dict[str, str]:
        return {"backend": "lab"}

    # -- commands -------------------------------------------------------------

    def run(
        self,
        node: str,
        argv: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` on the node; never raises on exit code."""
        return self.exec(node, list(argv), check=False, timeout_s=timeout_s)

    def exec(
        self,
        node: str,
        argv: list[str],
        check: bool = True,
        timeout_s: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node's namespaces; ``check`` raises on exit."""
        return lab_node.node_exec(
            self.lab.node_pid(node), argv, timeout_s=timeout_s, check=check
        )

    # -- components -----------------------------------------------------------

    def component(self, node: str, name: str) -> dict[str, Any]:
        """The supervisor's record of one component (state, pid, argv...)."""
        for comp in self.lab.components(node):
            if comp["name"] == name:
                return comp
        raise LabError(f"no component {name} on node {node}")

    def stop(self, node: str, component: str) -> None:
        """Stop a component until ``start`` (an outage, not a crash)."""
        self._call(node, "stop", name=component)

    def start(self, node: str, component: str) -> None:
        self._call(node, "start", name=component)

    def kill(
        self, node: str, component: str, sig: int = signal.SIGKILL
    ) -> None:
        """Signal a component; the supervisor restarts it after its delay."""
        self._call(node, "kill", name=component, signal=int(sig))

    def set_restart(
        self,
        node: str,
        component: str,
        restart: bool,
        delay_s: float | None = None,
    ) -> None:
        """Like ``Restart=`` and ``RestartSec=`` in a systemd unit: with
        ``restart`` False a crashed component stays down (a broken node)."""
        fields: dict[str, Any] = {"restart": restart}
        if delay_s is not None:
            fields["delay_s"] = delay_s
        self._call(node, "set_restart", name=component, **fields)

    def argv(self, node: str, component: str) -> list[str]:
        return list(self.component(node, component)["argv"])

    def set_argv(self, node: str, component: str, argv: list[str]) -> None:
        """Replace a component's command line and restart it."""
        self._call(node, "set_argv", name=component, argv=argv)

    def set_flags(
        self, node: str, component: str, flags: dict[str, str | None]
    ) -> list[str]:
        """Set (or drop, with None) ``--flag`` values; return the old argv."""
        old = self.argv(node, component)
        new = [old[0]]
        for arg in old[1:]:
            key = arg.split("=", 1)[0].lstrip("-")
            if key not in flags:
                new.append(arg)
        new += [f"--{k}={v}" for k, v in flags.items() if v is not None]
        self.set_argv(node, component, new)
        return old

    # -- network --------------------------------------------------------------

    def partition(self, node: str, peers: list[str]) -> None:
        """Cut ``node`` off from the named peer nodes (or raw IPs)."""
        topo = self.lab.topology()
        assert topo is not None
        ips = [topo.node(p).ip if not p[0].isdigit() else p for p in peers]
        network.partition(self._node(node), ips)

    def heal(self, node: str) -> None:
        network.heal(self._node(node))

    # -- observation ----------------------------------------------------------

    def read_file(self, node: str, path: str) -> str:
        """A file as the node sees it (its own /etc/kubernetes, ...)."""
        pid = self.lab.node_pid(node)
        try:
            return (Path(f"/proc/{pid}/root") / path.lstrip("/")).read_text()
        except OSError as exc:
            raise LabError(f"reading {path} on {node}: {exc}") from exc

    def processes(self, node: str) -> list[Process]:
        return parse_ps(self.exec(node, PS_ARGV).stdout)

    def connections(self, node: str) -> list[Connection]:
        """Established TCP connections on the node, with owning process."""
        return parse_ss(self.exec(node, SS_ARGV).stdout)

    def cleanup(self) -> None:
        """Nothing to remove: the lab backend creates nothing."""

    # -- internals ------------------------------------------------------------

    def _node(self, name: str) -> LabNode:
        topo = self.lab.topology()
        if topo is None:
            raise LabError("no lab is up: run `gauntlet lab up`")
        return topo.node(name)

    def _call(self, node: str, op: str, **fields: Any) -> dict[str, Any]:
        self._node(node)
        return sup.call(self.lab.paths.node(node).socket, op, **fields)
