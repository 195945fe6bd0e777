"""Where the lab keeps its cache (binaries, images) and its state.

The cache is keyed by version and survives ``lab down``; the state is one
lab's life and is removed by ``down``. The state root must not sit under a
directory that nodes mount over (/var/lib/kubelet, /run, ...). The state
root, node directories and socket name are defined once, in
``gauntlet.nodes.supervisor_wire``: the pod backend finds sockets too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gauntlet.nodes.supervisor_wire import (
    SOCKET_NAME,
    lab_dir,
    node_dir,
    state_root,
)

__all__ = ["LabPaths", "NodePaths", "state_root"]


@dataclass(frozen=True)
class NodePaths:
    """Host-side directories of one node, bound over its system paths."""

    root: Path

    @property
    def etc_kubernetes(self) -> Path:
        return self.root / "etc-kubernetes"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def socket(self) -> Path:
        return self.root / SOCKET_NAME

    @property
    def pid_file(self) -> Path:
        return self.root / "init.pid"

    @property
    def config(self) -> Path:
        return self.root / "supervisor.json"

    def bind_sources(self) -> dict[str, Path]:
        """Node path -> host directory for every per-node bind mount."""
        return {
            "/etc/kubernetes": self.etc_kubernetes,
            "/etc/cni/net.d": self.root / "cni-conf",
            "/etc/containerd": self.root / "etc-containerd",
            "/var/lib/kubelet": self.root / "kubelet",
            "/var/lib/etcd": self.root / "etcd",
            "/var/lib/containerd": self.root / "containerd",
            "/var/lib/cni": self.root / "cni",
            "/var/log/pods": self.root / "log-pods",
            "/var/log/containers": self.root / "log-containers",
        }


@dataclass(frozen=True)
class LabPaths:
    """Host-side layout of one lab's state."""

    root: Path

    @classmethod
    def default(cls) -> LabPaths:
        return cls(lab_dir(state_root()))

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    @property
    def manifest(self) -> Path:
        return self.root / "lab.json"

    @property
    def lb_pid(self) -> Path:
        return self.root / "lb.pid"

    @property
    def lb_log(self) -> Path:
        return self.root / "lb.log"

    @property
    def created_dirs(self) -> Path:
        return self.root / "created-dirs.json"

    def node(self, name: str) -> NodePaths:
        return NodePaths(node_dir(self.root, name))
