"""Everything one lab node needs on disk, and its supervisor's config.

Owns the node's host-side directory tree and ``supervisor.json`` (bind
mounts, tmpfs, environment, components); the files themselves come from
``nodepki`` (certificates, kubeconfigs), ``nodefiles`` (config files)
and ``components`` (what the supervisor runs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gauntlet.lab.components import Binaries, node_components
from gauntlet.lab.nodefiles import CONTAINERD_SOCKET, write_config_files
from gauntlet.lab.nodepki import install_pki, write_kubeconfigs
from gauntlet.lab.paths import LabPaths, NodePaths
from gauntlet.lab.systemctl_shim import shim_binds
from gauntlet.lab.topology import LabNode, Topology

__all__ = ["Binaries", "write_node"]

TMPFS = ("/var/lib/etcd",)
"""etcd keeps its data in memory: the lab shares one VM disk with the
whole CI run, and WAL fsync should measure etcd, not that disk."""
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def write_node(
    paths: LabPaths,
    node: LabNode,
    topology: Topology,
    bins: Binaries,
    images: list[Path],
    sandbox_image: str,
) -> Path:
    """Write every file ``node`` needs; return its supervisor config path."""
    np = paths.node(node.name)
    _make_dirs(np)
    if topology.flavor != "kubeadm":  # kubeadm makes its own PKI
        install_pki(paths.pki, np, node)
        write_kubeconfigs(np, node)
    write_config_files(np, node, topology, sandbox_image)
    components = node_components(bins, node, topology, images)
    config = supervisor_config(np, node, bins, components)
    np.config.write_text(json.dumps(config, indent=2))
    return np.config


def supervisor_config(
    np: NodePaths,
    node: LabNode,
    bins: Binaries,
    components: list[dict[str, Any]],
) -> dict[str, Any]:
    """The node's ``supervisor.json``: namespaces' setup and components."""
    return {
        "node": node.name,
        "hostname": node.name,
        "cgroup_root": node.cgroup_root,
        "socket": str(np.socket),
        "log_dir": str(np.logs),
        "binds": _binds(np),
        "tmpfs": list(TMPFS),
        "env": {
            "PATH": f"{bins.containerd}:{bins.kubernetes}:{bins.etcd}:"
            + HOST_PATH,
            "CONTAINERD_ADDRESS": CONTAINERD_SOCKET,
            "CONTAINER_RUNTIME_ENDPOINT": f"unix://{CONTAINERD_SOCKET}",
        },
        "components": components,
    }


def _make_dirs(np: NodePaths) -> None:
    for source in np.bind_sources().values():
        source.mkdir(parents=True, exist_ok=True)
    np.logs.mkdir(parents=True, exist_ok=True)
    (np.etc_kubernetes / "manifests").mkdir(parents=True, exist_ok=True)


def _binds(np: NodePaths) -> dict[str, str]:
    """Node path -> host path; tmpfs paths get no bind."""
    binds = {k: str(v) for k, v in np.bind_sources().items() if k not in TMPFS}
    binds["/etc/resolv.conf"] = str(np.root / "resolv.conf")
    binds["/etc/hosts"] = str(np.root / "hosts")
    binds.update(shim_binds(np.root, np.socket))
    return binds
