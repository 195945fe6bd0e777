"""Addresses and names of a lab cluster, derived from its shape.

Everything here is pure: the same shape always yields the same addresses, so
``down`` can find what ``up`` created even after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from gauntlet.errors import UsageError
from gauntlet.wellknown import APISERVER_PORT

BRIDGE = "kglab0"
BRIDGE_IP = "10.250.0.1"
NODE_PREFIX_LEN = 24
POD_CIDR = "10.251.0.0/16"
SERVICE_CIDR = "10.252.0.0/16"
API_SERVICE_IP = "10.252.0.1"
DNS_SERVICE_IP = "10.252.0.10"
LB_ENDPOINT = f"https://{BRIDGE_IP}:{APISERVER_PORT}"
CLUSTER_DOMAIN = "cluster.local"
NETNS_PREFIX = "kg-"
CGROUP_PREFIX = "kg-"
MAX_CONTROL_PLANES = 5
MAX_WORKERS = 4

Flavor = Literal["services", "kubeadm", "managed"]
"""How the lab's control plane runs, i.e. which kind of cluster it imitates.

``services``: supervised host processes (kubelet-less control plane
components, like a systemd-run control plane); ``kubeadm``: bootstrapped
by ``kubeadm init/join``, control plane as static pods; ``managed``: the
control plane exists but is not part of the cluster (no Node objects, no
kubelet on its hosts), as on EKS or GKE.
"""
FLAVORS: tuple[Flavor, ...] = get_args(Flavor)


@dataclass(frozen=True)
class LabNode:
    """One node: its name, address and the pod range it hands out."""

    name: str
    index: int
    ip: str
    control_plane: bool

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}"

    @property
    def veth(self) -> str:
        return f"kgv-{self.name}"[:15]

    @property
    def pod_cidr(self) -> str:
        return f"10.251.{self.index}.0/24"

    @property
    def cgroup_root(self) -> str:
        return f"/{CGROUP_PREFIX}{self.name}"

    @property
    def role(self) -> str:
        return "control-plane" if self.control_plane else "worker"


@dataclass(frozen=True)
class Topology:
    """The nodes of one lab, control planes first, and how it is run."""

    nodes: tuple[LabNode, ...]
    flavor: Flavor = "services"

    @property
    def control_planes(self) -> tuple[LabNode, ...]:
        return tuple(n for n in self.nodes if n.control_plane)

    @property
    def workers(self) -> tuple[LabNode, ...]:
        return tuple(n for n in self.nodes if not n.control_plane)

    @property
    def kubelet_nodes(self) -> tuple[LabNode, ...]:
        """Nodes that run a kubelet (and so become Node objects)."""
        if self.flavor == "managed":
            return self.workers
        return self.nodes

    def node(self, name: str) -> LabNode:
        for n in self.nodes:
            if n.name == name:
                return n
        known = ", ".join(n.name for n in self.nodes)
        raise UsageError(f"no lab node named {name!r} (nodes: {known})")


def plan(
    control_planes: int, workers: int, flavor: str = "services"
) -> Topology:
    """Name and address the nodes of a lab with this shape and flavor."""
    if flavor not in FLAVORS:
        raise UsageError(
            f"--flavor must be one of {', '.join(FLAVORS)}, got {flavor!r}"
        )
    if not 1 <= control_planes <= MAX_CONTROL_PLANES:
        raise UsageError(
            f"--control-planes must be 1 to {MAX_CONTROL_PLANES}, "
            f"got {control_planes}"
        )
    if not 0 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be 0 to {MAX_WORKERS}, got {workers}")
    if flavor == "managed" and workers == 0:
        raise UsageError("a managed lab needs at least one worker")
    nodes = [
        LabNode(f"cp{i}", 10 + i, f"10.250.0.{10 + i}", True)
        for i in range(1, control_planes + 1)
    ]
    nodes += [
        LabNode(f"w{i}", 20 + i, f"10.250.0.{20 + i}", False)
        for i in range(1, workers + 1)
    ]
    return Topology(tuple(nodes), flavor)
