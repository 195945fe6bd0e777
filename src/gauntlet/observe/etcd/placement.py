"""Where etcdctl runs, and how it is found.

On a control-plane node through node access: the ``etcdctl`` next to the
running ``etcd`` binary, inside that process's root (a container), or on
the PATH, with the member's own ``--trusted-ca-file`` and the
``healthcheck-client`` pair kubeadm and the lab keep beside it (else the
API server's etcd client pair). Or inside a running ``component=etcd``
static pod in kube-system, with kubeadm's certificate paths.
"""

from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.cluster.discovery import ClusterTopology
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.errors import ClusterOperationFailed
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe import objects
from gauntlet.observe.host import Component, components
from gauntlet.wellknown import ETCD_CLIENT_PORT

__all__ = [
    "ETCDCTL_TIMEOUT_S",
    "HostEtcdCtl",
    "Placement",
    "PodEtcdCtl",
    "etcd_processes",
    "host_placements",
    "pod_placement",
]

ETCDCTL_TIMEOUT_S = 30.0
POD_LIST_TIMEOUT_S = 10.0
KUBEADM_PKI = "/etc/kubernetes/pki/etcd"
_FIRST_EXECUTABLE = (
    'for p in "$@"; do [ -x "$p" ] && [ -f "$p" ] && '
    '{ echo "$p"; exit 0; }; done; command -v etcdctl || exit 3'
)
_FIRST_READABLE = (
    'for p in "$@"; do [ -r "$p" ] && { echo "$p"; exit 0; }; done; exit 3'
)


class Placement(Protocol):
    """Somewhere etcdctl runs with a client identity etcd trusts."""

    @property
    def where(self) -> str: ...

    def run(
        self, args: Sequence[str], endpoints: Sequence[str] | None
    ) -> subprocess.CompletedProcess[str]: ...


@dataclass(frozen=True)
class HostEtcdCtl:
    """etcdctl on one control-plane node, through node access."""

    nodes: NodeAccess = field(repr=False)
    node: str
    binary: str
    cacert: str
    cert: str
    key: str
    endpoints: tuple[str, ...]
    """Every member's client URL known up front (the local one first),
    used when a call names none: etcdctl fails over between them."""

    @property
    def where(self) -> str:
        return f"node {self.node}"

    @property
    def local_endpoint(self) -> str:
        """The client URL of this node's own member (what a snapshot,
        which reads one member only, is taken from)."""
        return self.endpoints[0]

    def run(
        self,
        args: Sequence[str],
        endpoints: Sequence[str] | None,
        timeout_s: float = ETCDCTL_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """``etcdctl -w json ARGS`` on the node; a later ``--flag`` in
        ``args`` overrides the defaults (``--command-timeout``)."""
        return self.nodes.run(
            self.node,
            [
                self.binary,
                *_tls_flags(
                    endpoints or self.endpoints,
                    self.cacert,
                    self.cert,
                    self.key,
                ),
                "-w",
                "json",
                *args,
            ],
            timeout_s=timeout_s,
        )


@dataclass(frozen=True)
class PodEtcdCtl:
    """etcdctl inside a kubeadm etcd static pod (kubeadm's PKI paths)."""

    cluster: Cluster = field(repr=False)
    pod: str
    endpoints: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"pod kube-system/{self.pod}"

    def run(
        self, args: Sequence[str], endpoints: Sequence[str] | None
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            "etcdctl",
            *_tls_flags(
                endpoints or self.endpoints,
                f"{KUBEADM_PKI}/ca.crt",
                f"{KUBEADM_PKI}/healthcheck-client.crt",
                f"{KUBEADM_PKI}/healthcheck-client.key",
            ),
            "-w",
            "json",
            *args,
        ]
        result = exec_in_pod(
            self.cluster.core(),
            "kube-system",
            self.pod,
            argv,
            timeout_s=ETCDCTL_TIMEOUT_S,
        )
        return subprocess.CompletedProcess(
            argv, result.returncode, result.stdout, result.stderr
        )


def etcd_processes(
    nodes: NodeAccess, topology: ClusterTopology
) -> dict[str, Component]:
    """Control-plane nodes running an etcd process -> that process."""
    found = {}
    for info in topology.control_planes:
        for comp in components(nodes, info.name):
            if comp.name == "etcd":
                found[info.name] = comp
    return found


def host_placements(
    nodes: NodeAccess, topology: ClusterTopology
) -> tuple[list[Placement], str]:
    members = etcd_processes(nodes, topology)
    if not members:
        return [], (
            "no etcd process on any control-plane node (external or "
            "hidden etcd)"
        )
    known = list(topology.etcd_members)
    for comp in members.values():
        known += _client_urls(comp)
    found: list[Placement] = []
    problems = []
    for _node, comp in sorted(members.items()):
        local = _client_urls(comp)
        others = sorted(set(known) - set(local))
        try:
            found.append(_host_ctl(nodes, comp, tuple(local + others)))
        except ClusterOperationFailed as exc:
            problems.append(str(exc))
    why = "" if found else f"cannot run etcdctl: {'; '.join(problems)}"
    return found, why


def _host_ctl(
    nodes: NodeAccess, etcd: Component, endpoints: tuple[str, ...]
) -> HostEtcdCtl:
    node = etcd.node
    bindir = _binary_dir(nodes, etcd)
    binary = _first_path(
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
    ca = etcd.flag("trusted-ca-file") or f"{KUBEADM_PKI}/ca.crt"
    pki = posixpath.dirname(ca)
    pairs = [(f"{pki}/healthcheck-client.crt", f"{pki}/healthcheck-client.key")]
    for comp in components(nodes, node):
        if comp.name == "kube-apiserver":
            cert, key = comp.flag("etcd-certfile"), comp.flag("etcd-keyfile")
            if cert and key:
                pairs.append((cert, key))
    root = f"/proc/{etcd.pid}/root"
    cacert = _first_path(
        nodes, node, _FIRST_READABLE, [ca, root + ca], "the etcd CA"
    )
    for cert, key in pairs:
        try:
            found = _first_path(
                nodes, node, _FIRST_READABLE, [cert, root + cert], cert
            )
        except ClusterOperationFailed:
            continue
        prefix = found[: -len(cert)]
        return HostEtcdCtl(
            nodes, node, binary, cacert, found, prefix + key, endpoints
        )
    raise ClusterOperationFailed(
        "find", "an etcd client certificate", None, f"on node {node}"
    )


def pod_placement(cluster: Cluster) -> tuple[PodEtcdCtl | None, str]:
    """The first running etcd static pod, or why there is none (the
    API may be down: etcd is then still reachable from the nodes)."""
    try:
        pods = (
            cluster.core()
            .list_namespaced_pod(
                "kube-system",
                label_selector="component=etcd",
                _request_timeout=POD_LIST_TIMEOUT_S,
            )
            .items
        )
    except ApiException as exc:
        return None, f"etcd pods: {exc.status} {exc.reason}"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return None, f"etcd pods: API unreachable ({exc})"
    running = sorted(
        (p for p in pods if objects.phase(p) == "Running"), key=objects.name
    )
    if not running:
        return None, "no running etcd static pod in kube-system"
    ips = sorted({_pod_address(p) for p in running} - {""})
    urls = tuple(f"https://{ip}:{ETCD_CLIENT_PORT}" for ip in ips)
    return PodEtcdCtl(cluster, objects.name(running[0]), urls), ""


def _binary_dir(nodes: NodeAccess, etcd: Component) -> str:
    """Where the etcd binary is, in its own root: from argv[0] when it is
    a path, else from /proc/<pid>/exe (kubeadm's pod runs plain ``etcd``
    from the image's PATH)."""
    bindir = posixpath.dirname(etcd.argv[0])
    if posixpath.isabs(bindir):
        return bindir
    proc = nodes.run(etcd.node, ["readlink", f"/proc/{etcd.pid}/exe"])
    exe = proc.stdout.strip()
    if proc.returncode == 0 and posixpath.isabs(exe):
        return posixpath.dirname(exe)
    return "/usr/local/bin"


def _first_path(
    nodes: NodeAccess, node: str, script: str, paths: list[str], what: str
) -> str:
    proc = nodes.run(node, ["sh", "-c", script, "sh", *paths])
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ClusterOperationFailed("find", what, None, f"on node {node}")
    return proc.stdout.strip().splitlines()[0]


def _client_urls(etcd: Component) -> list[str]:
    urls = (etcd.flag("advertise-client-urls") or "").split(",")
    return [u for u in urls if u] or [f"https://127.0.0.1:{ETCD_CLIENT_PORT}"]


def _tls_flags(
    endpoints: Sequence[str], cacert: str, cert: str, key: str
) -> list[str]:
    return [
        f"--endpoints={','.join(endpoints)}",
        f"--cacert={cacert}",
        f"--cert={cert}",
        f"--key={key}",
        "--dial-timeout=2s",
        "--command-timeout=5s",
    ]


def _pod_address(pod: Any) -> str:
    status = pod.status
    return str((status.pod_ip or status.host_ip) if status else "")
