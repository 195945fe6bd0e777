"""Who is configured for etcd, and who is connected to it right now.

Both views are sampled twice, ``SAMPLE_GAP_S`` apart, and only what shows
in both counts: a health probe that lives for a second (another check's
etcdctl, a monitoring agent's scrape) is not a client; a process that
stays connected is.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from gauntlet.checks.context import CheckContext
from gauntlet.nodes.base import NodeAccess
from gauntlet.nodes.types import Connection
from gauntlet.observe.host import (
    Component,
    component_of,
    host_processes,
)
from gauntlet.wellknown import ETCD_CLIENT_PORT, ETCD_PEER_PORT

SAMPLE_GAP_S = 3.0
ETCD_CLIENTS = frozenset({"kube-apiserver", "etcd"})
_ETCD_FLAGS = ("--etcd-servers", "--endpoints")


@dataclass(frozen=True, order=True)
class Finding:
    """One process or connection that should not be there."""

    node: str
    what: str

    def __str__(self) -> str:
        return f"{self.node}: {self.what}"


def persistent(
    first: Iterable[Finding], second: Iterable[Finding]
) -> list[Finding]:
    """Findings seen in both samples."""
    return sorted(set(first) & set(second))


def configured_clients(
    nodes: NodeAccess, node_names: Iterable[str], etcd_urls: Iterable[str]
) -> list[Finding]:
    """Processes other than kube-apiserver and etcd that name etcd.

    A process names etcd when its command line has ``--etcd-servers``,
    ``--endpoints`` with an etcd client port, or an etcd member's client
    address.
    """
    addresses = {urlsplit(u).netloc for u in etcd_urls if urlsplit(u).netloc}
    found = []
    for node in node_names:
        for proc in host_processes(nodes, node):
            name = component_of(proc.argv[0]) or posixpath.basename(
                proc.argv[0]
            )
            if name in ETCD_CLIENTS:
                continue
            named = _etcd_words(proc.argv, addresses)
            if named:
                found.append(
                    Finding(
                        node,
                        f"{name} (pid {proc.pid}) is configured with etcd "
                        f"endpoints ({' '.join(named)})",
                    )
                )
    return found


def _etcd_words(argv: Iterable[str], addresses: set[str]) -> list[str]:
    """The arguments of ``argv`` that point at etcd."""
    found = []
    for word in argv:
        if (
            word.startswith("--etcd-servers")
            or (
                word.startswith("--endpoints")
                and f":{ETCD_CLIENT_PORT}" in word
            )
            or any(addr in word for addr in addresses)
        ):
            found.append(_shorten(word))
    return found


def _shorten(args: str, limit: int = 100) -> str:
    return args if len(args) <= limit else args[: limit - 3] + "..."


@dataclass(frozen=True)
class Ports:
    """The ports and peers of one etcd member, from its flags."""

    client: frozenset[int]
    peer: frozenset[int]
    peer_ips: frozenset[str]

    @classmethod
    def of(cls, etcd: Component, member_ips: Iterable[str]) -> Ports:
        client = _ports(etcd.flag("listen-client-urls")) or {ETCD_CLIENT_PORT}
        peer = _ports(etcd.flag("listen-peer-urls")) or {ETCD_PEER_PORT}
        cluster = etcd.flag("initial-cluster") or ""
        ips = {
            urlsplit(entry.split("=", 1)[-1]).hostname or ""
            for entry in cluster.split(",")
        }
        return cls(
            frozenset(client),
            frozenset(peer),
            frozenset((ips | set(member_ips)) - {""}),
        )


def _ports(urls: str | None) -> set[int]:
    found = set()
    for url in (urls or "").split(","):
        port = urlsplit(url.strip()).port if url.strip() else None
        if port:
            found.add(port)
    return found


class ConnectionSample:
    """One sample of connection tables, fetched per node on demand."""

    def __init__(self, nodes: NodeAccess, ctx: CheckContext) -> None:
        self._nodes = nodes
        self._tables: dict[str, list[Connection]] = {}
        self._node_of_ip = {
            n.internal_ip: n.name for n in ctx.topology.nodes if n.internal_ip
        }

    def table(self, node: str) -> list[Connection]:
        if node not in self._tables:
            self._tables[node] = self._nodes.connections(node)
        return self._tables[node]

    def owner(self, node: str, conn: Connection) -> str:
        """Who holds the other end of ``conn`` (a server-side socket)."""
        ip = host_of(conn.remote)
        if ip_address(ip).is_loopback or self._node_of_ip.get(ip) == node:
            where = node
        elif ip in self._node_of_ip:
            where = self._node_of_ip[ip]
        else:
            return f"host {ip} (not a node)"
        for other in self.table(where):
            if other.local == conn.remote and other.remote == conn.local:
                name = other.process or "an unknown process"
                return f"{name} (pid {other.pid}) on {where}"
        return f"an unknown process on {where}"


def unexpected_connections(
    sample: ConnectionSample, members: dict[str, Component], ports: Ports
) -> list[Finding]:
    """Client-port connections from non-apiserver, non-etcd processes and
    peer-port connections from anything but an etcd member."""
    found = []
    for node in sorted(members):
        for conn in sample.table(node):
            if conn.process != "etcd":
                continue
            if conn.local_port in ports.client:
                owner = sample.owner(node, conn)
                if owner.split(" ", 1)[0] not in ETCD_CLIENTS:
                    found.append(
                        Finding(
                            node,
                            f"{owner} is connected to etcd's client port "
                            f"({conn.remote} -> {conn.local})",
                        )
                    )
            elif conn.local_port in ports.peer:
                ip = host_of(conn.remote)
                owner = sample.owner(node, conn)
                if ip not in ports.peer_ips or not owner.startswith("etcd "):
                    found.append(
                        Finding(
                            node,
                            f"{owner} is connected to etcd's peer port "
                            f"({conn.remote} -> {conn.local})",
                        )
                    )
    return found


def connection_table(
    sample: ConnectionSample, members: dict[str, Component], ports: Ports
) -> str:
    """The etcd connections of every member node, for the report."""
    lines = []
    for node in sorted(members):
        for conn in sample.table(node):
            if conn.process == "etcd" and conn.local_port in (
                ports.client | ports.peer
            ):
                lines.append(
                    f"{node}\t{conn.local}\t<- {conn.remote}\t"
                    f"{sample.owner(node, conn)}"
                )
    return "\n".join(lines) or "no etcd connections"


def host_of(address: str) -> str:
    """The IP of ``ip:port``, ``[v6]:port`` or ``[::ffff:v4]:port``."""
    host = address.rsplit(":", 1)[0].strip("[]")
    host = host.split("%", 1)[0]
    return host.removeprefix("::ffff:")


def sample_twice(
    take: Callable[[], list[Finding]], gap_s: float = SAMPLE_GAP_S
) -> tuple[list[Finding], list[Finding]]:
    first = take()
    time.sleep(gap_s)
    return first, take()
