"""etcd as the ARCH checks see it: through etcdctl on a member's node.

The etcdctl binary and the client certificate come from the member's own
etcd process: the ``etcdctl`` next to its ``etcd`` binary (on the host or
inside its container), its ``--trusted-ca-file`` and the
``healthcheck-client`` pair kubeadm and the lab keep next to that CA, or
else the API server's etcd client pair.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gauntlet.checks.arch._host import Component, components
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.errors import ClusterOperationFailed
from gauntlet.nodes.base import NodeAccess

ETCDCTL_TIMEOUT_S = 30.0
_FIRST_EXECUTABLE = (
    'for p in "$@"; do [ -x "$p" ] && [ -f "$p" ] && '
    '{ echo "$p"; exit 0; }; done; command -v etcdctl || exit 3'
)
_FIRST_READABLE = (
    'for p in "$@"; do [ -r "$p" ] && { echo "$p"; exit 0; }; done; exit 3'
)


@dataclass(frozen=True)
class EtcdCtl:
    """etcdctl on one node with a client identity etcd trusts."""

    node: str
    binary: str
    cacert: str
    cert: str
    key: str
    endpoints: tuple[str, ...]
    """Every member's client URL known up front (the local one first),
    used when a call names none: etcdctl fails over between them."""

    def run(
        self,
        nodes: NodeAccess,
        *args: str,
        endpoints: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        eps = ",".join(endpoints or self.endpoints)
        return nodes.run(
            self.node,
            [
                self.binary,
                f"--endpoints={eps}",
                f"--cacert={self.cacert}",
                f"--cert={self.cert}",
                f"--key={self.key}",
                "--dial-timeout=2s",
                "--command-timeout=5s",
                "-w",
                "json",
                *args,
            ],
            timeout_s=ETCDCTL_TIMEOUT_S,
        )

    def json(
        self,
        nodes: NodeAccess,
        *args: str,
        endpoints: list[str] | None = None,
    ) -> Any:
        """Parsed ``-w json`` output; a failed command with output is
        still parsed (health and status print what they could reach).

        Raises:
            ClusterOperationFailed: no JSON came back.
        """
        proc = self.run(nodes, *args, endpoints=endpoints)
        try:
            return json.loads(proc.stdout)
        except ValueError as exc:
            last = (proc.stderr or proc.stdout).strip().splitlines()
            raise ClusterOperationFailed(
                f"etcdctl {' '.join(args)}",
                f"etcd from node {self.node}",
                None,
                last[-1][:200] if last else f"exit {proc.returncode}",
            ) from exc


@dataclass(frozen=True)
class Member:
    """One etcd member with its health and the leader it follows."""

    member_id: str
    name: str
    client_urls: tuple[str, ...]
    peer_urls: tuple[str, ...]
    learner: bool
    node: str | None
    healthy: bool
    error: str
    leader_id: str | None
    """The leader this member reports, None when it did not answer."""
    db_size: int | None
    quota: int | None

    @property
    def label(self) -> str:
        where = self.node or self.name or "unstarted"
        url = self.client_urls[0] if self.client_urls else self.peer_urls[0]
        return f"{where} ({self.member_id}, {url})"


def etcd_nodes(ctx: CheckContext, nodes: NodeAccess) -> dict[str, Component]:
    """Control-plane nodes running an etcd process -> that process."""
    found = {}
    for info in ctx.topology.control_planes:
        for comp in components(nodes, info.name):
            if comp.name == "etcd":
                found[info.name] = comp
    return found


def etcdctl_on(ctx: CheckContext, why: str) -> EtcdCtl:
    """etcdctl on the first control-plane node where it can be set up.

    Raises:
        CheckSkipped: no node access, no etcd process on any control-plane
            node (external or hidden etcd), or no etcdctl found.
    """
    nodes = ctx.require_nodes(why)
    members = etcd_nodes(ctx, nodes)
    if not members:
        raise CheckSkipped(
            f"{why}: no etcd process on any control-plane node "
            "(external or hidden etcd)"
        )
    known = list(ctx.topology.etcd_members)
    for comp in members.values():
        known += _client_urls(comp)
    problems = []
    for _node, comp in sorted(members.items()):
        local = _client_urls(comp)
        others = sorted(set(known) - set(local))
        try:
            return _etcdctl_for(nodes, comp, tuple(local + others))
        except ClusterOperationFailed as exc:
            problems.append(str(exc))
    raise CheckSkipped(f"{why}: cannot run etcdctl: {'; '.join(problems)}")


def _etcdctl_for(
    nodes: NodeAccess, etcd: Component, endpoints: tuple[str, ...]
) -> EtcdCtl:
    node = etcd.node
    bindir = posixpath.dirname(etcd.argv[0])
    binary = _first(
        nodes,
        node,
        _FIRST_EXECUTABLE,
        [
            posixpath.join(bindir, "etcdctl"),
            f"/proc/{etcd.pid}/root{bindir}/etcdctl",
            "/usr/local/bin/etcdctl",
        ],
        "etcdctl",
    )
    ca = etcd.flag("trusted-ca-file") or "/etc/kubernetes/pki/etcd/ca.crt"
    pki = posixpath.dirname(ca)
    pairs = [(f"{pki}/healthcheck-client.crt", f"{pki}/healthcheck-client.key")]
    for comp in components(nodes, node):
        if comp.name == "kube-apiserver":
            cert, key = comp.flag("etcd-certfile"), comp.flag("etcd-keyfile")
            if cert and key:
                pairs.append((cert, key))
    root = f"/proc/{etcd.pid}/root"
    cacert = _first(
        nodes, node, _FIRST_READABLE, [ca, root + ca], "the etcd CA"
    )
    for cert, key in pairs:
        try:
            found = _first(
                nodes, node, _FIRST_READABLE, [cert, root + cert], cert
            )
        except ClusterOperationFailed:
            continue
        prefix = found[: -len(cert)]
        return EtcdCtl(node, binary, cacert, found, prefix + key, endpoints)
    raise ClusterOperationFailed(
        "find", "an etcd client certificate", None, f"on node {node}"
    )


def _first(
    nodes: NodeAccess, node: str, script: str, paths: list[str], what: str
) -> str:
    proc = nodes.run(node, ["sh", "-c", script, "sh", *paths])
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ClusterOperationFailed("find", what, None, f"on node {node}")
    return proc.stdout.strip().splitlines()[0]


def _client_urls(etcd: Component) -> list[str]:
    urls = (etcd.flag("advertise-client-urls") or "").split(",")
    return [u for u in urls if u] or ["https://127.0.0.1:2379"]


def cluster_members(ctx: CheckContext, ctl: EtcdCtl) -> list[Member]:
    """Every member with health, leader and db size (unstarted ones too).

    Raises:
        ClusterOperationFailed: the member list cannot be read.
    """
    nodes = ctx.require_nodes("etcd members")
    listed = ctl.json(nodes, "member", "list").get("members") or []
    urls = [u for m in listed for u in m.get("clientURLs") or []]
    health: dict[str, dict[str, Any]] = {}
    status: dict[str, dict[str, Any]] = {}
    if urls:
        for row in ctl.json(nodes, "endpoint", "health", endpoints=urls):
            health[row.get("endpoint", "")] = row
        for row in ctl.json(nodes, "endpoint", "status", endpoints=urls):
            status[row.get("Endpoint", "")] = row.get("Status") or {}
    by_ip = {n.internal_ip: n.name for n in ctx.topology.nodes}
    members = []
    for m in listed:
        client_urls = tuple(m.get("clientURLs") or ())
        peer_urls = tuple(m.get("peerURLs") or ())
        url = (client_urls or peer_urls or ("",))[0]
        checked = [health[u] for u in client_urls if u in health]
        st = next((status[u] for u in client_urls if u in status), None)
        healthy = bool(checked) and all(h.get("health") for h in checked)
        error = "; ".join(
            str(h.get("error")) for h in checked if h.get("error")
        ) or ("never started (no client URL)" if not client_urls else "")
        members.append(
            Member(
                member_id=f"{int(m.get('ID', 0)):x}",
                name=str(m.get("name") or ""),
                client_urls=client_urls,
                peer_urls=peer_urls,
                learner=bool(m.get("isLearner")),
                node=by_ip.get(urlsplit(url).hostname),
                healthy=healthy,
                error=error if not healthy else "",
                leader_id=f"{int(st['leader']):x}"
                if st and st.get("leader")
                else None,
                db_size=int(st["dbSize"]) if st and "dbSize" in st else None,
                quota=int(st["dbSizeQuota"])
                if st and st.get("dbSizeQuota")
                else None,
            )
        )
    return members
