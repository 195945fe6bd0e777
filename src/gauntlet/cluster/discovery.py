"""What kind of cluster this is: nodes, control plane, etcd, distribution.

Tests use the topology to decide what they can observe (a managed control
plane hides etcd: those tests skip with the reason); reports show it so a
verdict is read against the cluster it was taken on.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.errors import ClusterOperationFailed
from gauntlet.wellknown import ETCD_CLIENT_PORT, LAB_NAME

__all__ = [
    "ClusterTopology",
    "NOT_VISIBLE",
    "NO_CONTROL_PLANE_NODE",
    "ControlPlaneMode",
    "NodeInfo",
    "discover",
    "guess_distribution",
    "not_visible",
]

ControlPlaneMode = Literal["static-pods", "host-services", "hidden", "unknown"]

NOT_VISIBLE = "control plane not visible"
"""The one reason given for what a hidden (managed) control plane keeps
from view: its nodes, processes, static pods and etcd."""


def not_visible(detail: str) -> str:
    """``control plane not visible: <detail>``, the hidden plane's reason."""
    return f"{NOT_VISIBLE}: {detail}"


NO_CONTROL_PLANE_NODE = not_visible(
    "no node has the control-plane role or runs kube-apiserver or etcd "
    "(a managed control plane)"
)
EtcdSource = Literal["apiserver-flags", "lab", "unknown"]

CONTROL_PLANE_LABELS = (
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_PROVIDERS = (("aws://", "eks"), ("gce://", "gke"), ("azure://", "aks"))
T = TypeVar("T")


@dataclass(frozen=True)
class NodeInfo:
    """One node as the API reports it."""

    name: str
    control_plane: bool
    kubelet_version: str
    container_runtime: str
    """``containerd://2.1.0``, ``cri-o://...``, ``docker://...``."""
    internal_ip: str | None
    provider_id: str


@dataclass(frozen=True)
class ClusterTopology:
    """The cluster's shape as seen through the API."""

    context: str
    server: str
    server_version: str
    distribution: str
    """``kube-gauntlet-lab``, ``kind``, ``k3s``, ``eks``, ``gke``, ``aks``,
    ``kubeadm`` or ``unknown``."""
    control_plane_mode: ControlPlaneMode
    nodes: tuple[NodeInfo, ...]
    etcd_members: tuple[str, ...]
    """Client URLs of the etcd members, empty when unknown."""
    etcd_source: EtcdSource
    notes: tuple[str, ...] = ()
    """What could not be observed, and why (e.g. a 403)."""

    @property
    def control_planes(self) -> tuple[NodeInfo, ...]:
        return tuple(n for n in self.nodes if n.control_plane)

    @property
    def workers(self) -> tuple[NodeInfo, ...]:
        return tuple(n for n in self.nodes if not n.control_plane)

    def to_environment(self) -> dict[str, str]:
        """Key/value pairs for allure's ``environment.properties``."""
        return {
            "context": self.context,
            "server": self.server,
            "kubernetes.version": self.server_version,
            "distribution": self.distribution,
            "control_plane.mode": self.control_plane_mode,
            "control_plane.nodes": _joined(n.name for n in self.control_planes),
            "workers": _joined(n.name for n in self.workers),
            "kubelet.versions": _joined(
                f"{n.name}={n.kubelet_version}" for n in self.nodes
            ),
            "container.runtimes": _joined(
                f"{n.name}={n.container_runtime}" for n in self.nodes
            ),
            "etcd.members": _joined(self.etcd_members) or "unknown",
            "etcd.source": self.etcd_source,
        }


def discover(cluster: Cluster) -> ClusterTopology:
    """Read nodes, kube-system pods and the API endpoints; no writes.

    A 403 on kube-system pods or EndpointSlices becomes a note and an
    ``unknown`` mode rather than an error: read-only users still get a
    topology, and the tests that need more skip with the note.

    Raises:
        ClusterOperationFailed: a read failed for another reason.
    """
    core = cluster.core()
    notes: list[str] = []
    version_api = client.VersionApi(cluster.api)
    version = _call("get", "version", None, version_api.get_code)
    nodes = tuple(
        node_info(n) for n in _call("list", "nodes", None, core.list_node).items
    )
    pods = _forbidden_as_note(
        notes,
        "list",
        "pods",
        "kube-system",
        lambda: core.list_namespaced_pod("kube-system").items,
    )
    apiserver_pods = [p for p in pods or [] if is_apiserver_pod(p)]
    endpoint_ips = _forbidden_as_note(
        notes,
        "list",
        "endpointslices",
        "default",
        lambda: _kubernetes_endpoint_ips(cluster),
    )
    kubeadm = _forbidden_as_note(
        notes,
        "get",
        "configmaps/kubeadm-config",
        "kube-system",
        lambda: _configmap_exists(cluster, "kube-system", "kubeadm-config"),
    )
    distribution = guess_distribution(
        nodes, cluster.cluster_name, kubeadm_config=bool(kubeadm)
    )
    mode = control_plane_mode(
        nodes, apiserver_pods, endpoint_ips, pods_visible=pods is not None
    )
    members, source = etcd_members(apiserver_pods, nodes, distribution)
    return ClusterTopology(
        context=cluster.context,
        server=cluster.server,
        server_version=str(version.git_version),
        distribution=distribution,
        control_plane_mode=mode,
        nodes=nodes,
        etcd_members=members,
        etcd_source=source,
        notes=tuple(notes),
    )


def node_info(node: client.V1Node) -> NodeInfo:
    """The fields of a ``V1Node`` that discovery reports."""
    meta = node.metadata or client.V1ObjectMeta()
    labels = meta.labels or {}
    info = node.status.node_info if node.status else None
    addresses = (node.status.addresses if node.status else None) or []
    internal = [a.address for a in addresses if a.type == "InternalIP"]
    return NodeInfo(
        name=str(meta.name),
        control_plane=any(label in labels for label in CONTROL_PLANE_LABELS),
        kubelet_version=str(info.kubelet_version) if info else "",
        container_runtime=str(info.container_runtime_version) if info else "",
        internal_ip=internal[0] if internal else None,
        provider_id=str((node.spec.provider_id if node.spec else "") or ""),
    )


def is_apiserver_pod(pod: client.V1Pod) -> bool:
    """A kube-apiserver static (mirror) pod, as kubeadm and kind run it."""
    meta = pod.metadata or client.V1ObjectMeta()
    if not str(meta.name or "").startswith("kube-apiserver"):
        return False
    labels = meta.labels or {}
    annotations = meta.annotations or {}
    return (
        labels.get("component") == "kube-apiserver"
        or MIRROR_ANNOTATION in annotations
    )


def control_plane_mode(
    nodes: Sequence[NodeInfo],
    apiserver_pods: Sequence[client.V1Pod],
    endpoint_ips: Iterable[str] | None,
    pods_visible: bool = True,
) -> ControlPlaneMode:
    """How the control plane runs, judged from what the API shows."""
    control_ips = {n.internal_ip for n in nodes if n.control_plane}
    if apiserver_pods:
        return "static-pods"
    if not control_ips:
        return "hidden"
    if not pods_visible:
        return "unknown"
    if endpoint_ips is not None and set(endpoint_ips) & control_ips:
        return "host-services"
    return "unknown"


def etcd_members(
    apiserver_pods: Sequence[client.V1Pod],
    nodes: Sequence[NodeInfo],
    distribution: str,
) -> tuple[tuple[str, ...], EtcdSource]:
    """etcd client URLs: from ``--etcd-servers``, the lab layout, or none.

    Loopback URLs in a static pod's flags (stacked etcd) are rewritten to
    the pod's host IP, so each member is named once, reachably.
    """
    found: set[str] = set()
    for pod in apiserver_pods:
        host_ip = pod.status.host_ip if pod.status else None
        for url in _etcd_servers(pod):
            if host_ip:
                for loopback in ("127.0.0.1", "localhost", "[::1]"):
                    url = url.replace(f"//{loopback}:", f"//{host_ip}:")
            found.add(url)
    if found:
        return tuple(sorted(found)), "apiserver-flags"
    if distribution == LAB_NAME:
        # The lab runs stacked etcd on every control-plane node.
        return (
            tuple(
                f"https://{n.internal_ip}:{ETCD_CLIENT_PORT}"
                for n in nodes
                if n.control_plane and n.internal_ip
            ),
            "lab",
        )
    return (), "unknown"


def guess_distribution(
    nodes: Sequence[NodeInfo], cluster_name: str, kubeadm_config: bool
) -> str:
    """Best guess from names, provider IDs and kubelet versions."""
    if cluster_name == LAB_NAME:
        return LAB_NAME
    provider_ids = [n.provider_id for n in nodes]
    if any(p.startswith("kind://") for p in provider_ids):
        return "kind"
    if any("k3s" in n.kubelet_version for n in nodes):
        return "k3s"
    for prefix, name in _PROVIDERS:
        if any(p.startswith(prefix) for p in provider_ids):
            return name
    if kubeadm_config:
        return "kubeadm"
    return "unknown"


def _etcd_servers(pod: client.V1Pod) -> list[str]:
    urls: list[str] = []
    for container in pod.spec.containers if pod.spec else []:
        argv = [*(container.command or []), *(container.args or [])]
        for i, arg in enumerate(argv):
            value = None
            if arg.startswith("--etcd-servers="):
                value = arg.split("=", 1)[1]
            elif arg == "--etcd-servers" and i + 1 < len(argv):
                value = argv[i + 1]
            if value:
                urls += [u for u in shlex.split(value.replace(",", " ")) if u]
    return urls


def _kubernetes_endpoint_ips(cluster: Cluster) -> list[str]:
    slices = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=kubernetes"
    )
    return [
        address
        for item in slices.items
        for endpoint in item.endpoints or []
        for address in endpoint.addresses or []
    ]


def _configmap_exists(cluster: Cluster, namespace: str, name: str) -> bool:
    try:
        cluster.core().read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _call(
    verb: str, resource: str, namespace: str | None, fn: Callable[[], T]
) -> T:
    try:
        return fn()
    except ApiException as exc:
        raise ClusterOperationFailed(
            verb, resource, namespace, f"{exc.status} {exc.reason}"
        ) from exc


def _forbidden_as_note(
    notes: list[str],
    verb: str,
    resource: str,
    namespace: str,
    fn: Callable[[], T],
) -> T | None:
    try:
        return fn()
    except ApiException as exc:
        if exc.status != 403:
            raise ClusterOperationFailed(
                verb, resource, namespace, f"{exc.status} {exc.reason}"
            ) from exc
        notes.append(f"cannot {verb} {resource} in {namespace}: 403 Forbidden")
        return None


def _joined(values: Iterable[str]) -> str:
    return ", ".join(values)
