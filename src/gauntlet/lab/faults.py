"""The lab's fault API: what suites and experiments do to lab nodes.

Stop/start/kill any component, partition a node from peers and heal, read a
node's files, processes and TCP connections, change a component's flags.
Every call names the node and component in its errors. Rollback is the
caller's job (the fault ledger records the inverse before injecting).
"""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.errors import LabError
from gauntlet.lab import network, node, sh
from gauntlet.lab import supervisor_client as sup
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.topology import LabNode
from gauntlet.nodes.parse import PS_ARGV, SS_ARGV, parse_ps, parse_ss
from gauntlet.nodes.types import Connection, Process


@dataclass(frozen=True)
class EtcdMember:
    """One etcd member's view of itself (from ``etcdctl endpoint status``)."""

    endpoint: str
    member_id: str
    leader_id: str
    is_leader: bool
    revision: int
    raft_term: int
    db_size: int


class LabFaults:
    """Faults and observations on the nodes of one lab."""

    def __init__(self, lab: LabCluster | None = None) -> None:
        self.lab = lab or LabCluster()

    def _node(self, name: str) -> LabNode:
        topo = self.lab.topology()
        if topo is None:
            raise LabError("no lab is up: run `gauntlet lab up`")
        return topo.node(name)

    def _call(self, node_name: str, op: str, **fields: Any) -> dict[str, Any]:
        self._node(node_name)
        return sup.call(self.lab.paths.node(node_name).socket, op, **fields)

    # -- components -----------------------------------------------------------

    def component(self, node_name: str, name: str) -> dict[str, Any]:
        for comp in self.lab.components(node_name):
            if comp["name"] == name:
                return comp
        raise LabError(f"no component {name} on node {node_name}")

    def stop(self, node_name: str, component: str) -> None:
        """Stop a component until ``start`` (an outage, not a crash)."""
        self._call(node_name, "stop", name=component)

    def start(self, node_name: str, component: str) -> None:
        self._call(node_name, "start", name=component)

    def kill(
        self, node_name: str, component: str, sig: int = signal.SIGKILL
    ) -> None:
        """Signal a component; the supervisor restarts it after its delay."""
        self._call(node_name, "kill", name=component, signal=int(sig))

    def set_restart(
        self,
        node_name: str,
        component: str,
        restart: bool,
        delay_s: float | None = None,
    ) -> None:
        """Like ``Restart=`` and ``RestartSec=`` in a systemd unit: with
        ``restart`` False a crashed component stays down (a broken node)."""
        fields: dict[str, Any] = {"restart": restart}
        if delay_s is not None:
            fields["delay_s"] = delay_s
        self._call(node_name, "set_restart", name=component, **fields)

    def argv(self, node_name: str, component: str) -> list[str]:
        return list(self.component(node_name, component)["argv"])

    def set_argv(self, node_name: str, component: str, argv: list[str]) -> None:
        """Replace a component's command line and restart it."""
        self._call(node_name, "set_argv", name=component, argv=argv)

    def set_flags(
        self, node_name: str, component: str, flags: dict[str, str | None]
    ) -> list[str]:
        """Set (or drop, with None) ``--flag`` values; return the old argv."""
        old = self.argv(node_name, component)
        new = [old[0]]
        for arg in old[1:]:
            key = arg.split("=", 1)[0].lstrip("-")
            if key not in flags:
                new.append(arg)
        new += [f"--{k}={v}" for k, v in flags.items() if v is not None]
        self.set_argv(node_name, component, new)
        return old

    # -- network --

    def partition(self, node_name: str, peers: list[str]) -> None:
        """Cut ``node_name`` off from the named peer nodes (or raw IPs)."""
        topo = self.lab.topology()
        assert topo is not None
        ips = [topo.node(p).ip if not p[0].isdigit() else p for p in peers]
        network.partition(self._node(node_name), ips)

    def heal(self, node_name: str) -> None:
        network.heal(self._node(node_name))

    # -- observation --

    def exec(
        self,
        node_name: str,
        argv: list[str],
        check: bool = True,
        timeout_s: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        return node.node_exec(
            self.lab.node_pid(node_name), argv, timeout_s=timeout_s, check=check
        )

    def read_file(self, node_name: str, path: str) -> str:
        """A file as the node sees it (its own /etc/kubernetes, ...)."""
        pid = self.lab.node_pid(node_name)
        try:
            return (Path(f"/proc/{pid}/root") / path.lstrip("/")).read_text()
        except OSError as exc:
            raise LabError(f"reading {path} on {node_name}: {exc}") from exc

    def processes(self, node_name: str) -> list[Process]:
        return parse_ps(self.exec(node_name, PS_ARGV).stdout)

    def connections(self, node_name: str) -> list[Connection]:
        """Established TCP connections on the node, with owning process."""
        return parse_ss(self.exec(node_name, SS_ARGV).stdout)

    # -- etcd --

    def etcdctl(
        self,
        *args: str,
        endpoints: list[str] | None = None,
        timeout_s: float = 15.0,
    ) -> subprocess.CompletedProcess[str]:
        """etcdctl from the runner host with the health-check client cert."""
        topo = self.lab.topology()
        if topo is None:
            raise LabError("no lab is up: run `gauntlet lab up`")
        eps = endpoints or [f"https://{n.ip}:2379" for n in topo.control_planes]
        pki = self.lab.paths.pki
        etcdctl = str(self.lab.binaries().etcd / "etcdctl")
        return sh.run(
            [
                etcdctl,
                f"--endpoints={','.join(eps)}",
                f"--cacert={pki / 'etcd/ca.crt'}",
                f"--cert={pki / 'etcd/healthcheck-client.crt'}",
                f"--key={pki / 'etcd/healthcheck-client.key'}",
                "--dial-timeout=2s",
                "--command-timeout=5s",
                *args,
            ],
            check=False,
            timeout_s=timeout_s,
        )

    def etcd_members(
        self, endpoints: list[str] | None = None
    ) -> list[EtcdMember]:
        """Status of every member that answers (``-w json``).

        A member without a leader (cut off, pre-voting) reports leader 0.
        """
        out = self.etcdctl(
            "endpoint", "status", "-w", "json", endpoints=endpoints
        )
        try:
            rows = json.loads(out.stdout or "[]")
        except ValueError as exc:
            raise LabError(f"etcdctl endpoint status: {out.stderr}") from exc
        members = []
        for row in rows:
            st = row["Status"]
            header = st["header"]
            members.append(
                EtcdMember(
                    endpoint=row["Endpoint"],
                    member_id=f"{header['member_id']:x}",
                    leader_id=f"{st.get('leader', 0):x}",
                    is_leader=header["member_id"] == st.get("leader", 0),
                    revision=int(header["revision"]),
                    raft_term=int(header["raft_term"]),
                    db_size=int(st.get("dbSize", 0)),
                )
            )
        return members
