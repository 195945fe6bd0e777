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

A fault given ``for_s`` runs the pod backend's own host script inside
the node (``nodes.restores``): the node undoes it at the planned time
with the same log and cancel as any host, so a check written against
``NodeAccess`` sees one behaviour on both backends. The lab needs no
dead man's switch: the runner host always reaches its nodes.
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
from gauntlet.nodes import host_commands as hc
from gauntlet.nodes.base import DEFAULT_TIMEOUT_S, sh_on
from gauntlet.nodes.parse import PS_ARGV, SS_ARGV, parse_ps, parse_ss
from gauntlet.nodes.restores import (
    RESTORE_MARGIN_S,
    PlannedRestores,
    cancel_script,
)
from gauntlet.nodes.types import PARTITION, Connection, Process, Restore

__all__ = ["LabNodeAccess"]


class LabNodeAccess:
    """Node access, faults and observations on the nodes of one lab."""

    def __init__(self, lab: LabCluster | None = None) -> None:
        self.lab = lab or LabCluster()
        self._restores = PlannedRestores(deadman_s=None)

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

    def stop(
        self,
        node: str,
        component: str,
        for_s: float | None = None,
        now: bool = False,
    ) -> None:
        """Stop a component until ``start`` (an outage, not a crash), or
        until the node starts it again ``for_s`` seconds later; ``now``:
        SIGKILL it first."""
        if for_s is None:
            if now:
                self._call(node, "kill", name=component, signal=9)
            self._call(node, "stop", name=component)
        else:
            op: hc.ComponentOp = "halt" if now else "stop"
            self._planned_component(op, node, component, for_s)

    def start(self, node: str, component: str) -> None:
        self._cancel(node, component)
        self._call(node, "start", name=component)

    def kill(
        self,
        node: str,
        component: str,
        sig: int = signal.SIGKILL,
        for_s: float | None = None,
    ) -> None:
        """Signal a component; the supervisor restarts it after its delay
        (with ``for_s``, the node starts it then if it did not)."""
        if for_s is None:
            self._call(node, "kill", name=component, signal=int(sig))
        else:
            self._planned_component("kill", node, component, for_s, sig)

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

    def partition(
        self, node: str, peers: list[str], for_s: float | None = None
    ) -> None:
        """Cut ``node`` off from the named peer nodes (or raw IPs), until
        ``heal`` or, with ``for_s``, until the node heals itself."""
        topo = self.lab.topology()
        assert topo is not None
        ips = [topo.node(p).ip if not p[0].isdigit() else p for p in peers]
        if for_s is None:
            network.partition(self._node(node), ips)
            return
        plan = self._restores.plan(node, PARTITION, for_s)
        script = self._restores.script(
            plan, hc.heal_script(), hc.partition_script(ips)
        )
        self._script(node, f"partition from {', '.join(peers)}", script)

    def heal(self, node: str) -> None:
        self._cancel(node, PARTITION)
        network.heal(self._node(node))

    def wait_restored(
        self, node: str, what: str, margin_s: float = RESTORE_MARGIN_S
    ) -> Restore:
        return self._restores.wait(sh_on(self, node), node, what, margin_s)

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

    def _planned_component(
        self,
        op: hc.ComponentOp,
        node: str,
        component: str,
        for_s: float,
        sig: int = signal.SIGKILL,
    ) -> None:
        """Stop or kill through the host script, armed to start again."""
        plan = self._restores.plan(node, component, for_s)
        script = self._restores.script(
            plan,
            hc.component_script("start", component),  # the node's systemctl
            hc.component_script(op, component, sig),
        )
        self._script(node, f"{op} {component}", script)

    def _cancel(self, node: str, what: str) -> None:
        """Cancel the node's planned undo of ``what`` (an early end)."""
        script = cancel_script(node, what)
        self._script(node, f"cancelling the planned undo of {what}", script)

    def _script(self, node: str, what: str, script: str) -> None:
        self._node(node)
        proc = sh_on(self, node)(script, DEFAULT_TIMEOUT_S)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            last = lines[-1][:200] if lines else f"exit {proc.returncode}"
            raise LabError(f"{what} on {node}: {last}")
