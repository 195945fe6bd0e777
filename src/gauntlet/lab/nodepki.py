"""A node's share of the lab PKI: its certificates and kubeconfigs.

Owns which certificate files each node receives (kubeadm's names, under
the node's /etc/kubernetes/pki) and the kubeconfigs written beside them:
the kubelet and kube-proxy reach the API through the lab's load balancer,
the controller-manager, scheduler and admin through their local API
server, as kubeadm sets them up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gauntlet.lab.paths import NodePaths
from gauntlet.lab.pki import write_kubeconfig
from gauntlet.lab.topology import LB_ENDPOINT, LabNode
from gauntlet.wellknown import APISERVER_PORT

PKI = "/etc/kubernetes/pki"
"""The PKI directory as the node sees it."""

_NODE_FILES = (
    "ca.crt",
    "kubelet/{name}-client.crt",
    "kubelet/{name}-client.key",
    "kubelet/{name}-server.crt",
    "kubelet/{name}-server.key",
    "kube-proxy.crt",
    "kube-proxy.key",
)
_CONTROL_PLANE_FILES = (
    "ca.key",
    "apiserver.crt",
    "apiserver.key",
    "apiserver-kubelet-client.crt",
    "apiserver-kubelet-client.key",
    "apiserver-etcd-client.crt",
    "apiserver-etcd-client.key",
    "sa.key",
    "sa.pub",
    "controller-manager.crt",
    "controller-manager.key",
    "scheduler.crt",
    "scheduler.key",
    "admin.crt",
    "admin.key",
    "etcd/ca.crt",
    "etcd/{name}-server.crt",
    "etcd/{name}-server.key",
    "etcd/{name}-peer.crt",
    "etcd/{name}-peer.key",
    "etcd/healthcheck-client.crt",
    "etcd/healthcheck-client.key",
)


def kubeconfig_path(name: str) -> str:
    """Where the node finds the kubeconfig called ``name``."""
    return f"/etc/kubernetes/{name}.conf"


def pki_files(node: LabNode) -> list[str]:
    """Certificate files ``node`` needs, relative to the PKI directory."""
    names = _NODE_FILES + (_CONTROL_PLANE_FILES if node.control_plane else ())
    return [n.format(name=node.name) for n in names]


def install_pki(pki_dir: Path, np: NodePaths, node: LabNode) -> None:
    """Copy the node's certificates from the lab PKI into its /etc."""
    dst = np.etc_kubernetes / "pki"
    for name in pki_files(node):
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pki_dir / name, target)


def write_kubeconfigs(np: NodePaths, node: LabNode) -> None:
    """Write every kubeconfig the node's components use."""
    kubelet_user = f"system:node:{node.name}"
    _kubeconfig(
        np, "kubelet", LB_ENDPOINT, f"kubelet/{node.name}-client", kubelet_user
    )
    _kubeconfig(
        np, "kube-proxy", LB_ENDPOINT, "kube-proxy", "system:kube-proxy"
    )
    if not node.control_plane:
        return
    local = f"https://{node.ip}:{APISERVER_PORT}"
    _kubeconfig(
        np,
        "controller-manager",
        local,
        "controller-manager",
        "system:kube-controller-manager",
    )
    _kubeconfig(np, "scheduler", local, "scheduler", "system:kube-scheduler")
    _kubeconfig(np, "admin", local, "admin", "kubernetes-admin")


def _kubeconfig(
    np: NodePaths, name: str, server: str, cert: str, user: str
) -> None:
    """Write /etc/kubernetes/<name>.conf from the node's own PKI copy."""
    pki = np.etc_kubernetes / "pki"
    write_kubeconfig(
        np.etc_kubernetes / f"{name}.conf",
        server=server,
        ca_file=pki / "ca.crt",
        cert_file=pki / f"{cert}.crt",
        key_file=pki / f"{cert}.key",
        user=user,
    )
