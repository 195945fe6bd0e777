"""What a lab node's supervisor runs: each component's command line.

In the ``services`` flavor control-plane nodes run stacked etcd,
kube-apiserver, the controller-manager and the scheduler as supervised
host processes (the kubeadm layout of flags and files, without static
pods), and every node runs containerd, the kubelet and kube-proxy. The
``managed`` flavor's control-plane nodes run only the control plane; the
``kubeadm`` flavor's nodes run containerd and a kubelet that waits for
``kubeadm`` to configure it (what kubeadm's systemd drop-in does), and
kubeadm runs the rest as static pods and DaemonSets. Owns the built
binaries' layout (``Binaries``), every component's argv and the
supervisor's component specs, in start order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.lab.nodefiles import CONTAINERD_SOCKET
from gauntlet.lab.nodepki import PKI, kubeconfig_path
from gauntlet.lab.topology import (
    CLUSTER_DOMAIN,
    SERVICE_CIDR,
    LabNode,
    Topology,
)
from gauntlet.wellknown import (
    APISERVER_PORT,
    ETCD_CLIENT_PORT,
    ETCD_PEER_PORT,
    LAB_NAME,
)

RESTART_DELAY_S = 3.0


@dataclass(frozen=True)
class Binaries:
    """Where the built binaries live on the host."""

    kubernetes: Path
    etcd: Path
    containerd: Path

    def k8s(self, name: str) -> str:
        return str(self.kubernetes / name)


def node_components(
    bins: Binaries, node: LabNode, topology: Topology, images: list[Path]
) -> list[dict[str, Any]]:
    """The supervisor's component specs for ``node``, in start order."""
    if topology.flavor == "managed" and node.control_plane:
        return control_plane_components(bins, node, topology)
    components = [
        component(
            "containerd",
            containerd_argv(bins),
            ready_path=CONTAINERD_SOCKET,
        ),
        component(
            "import-images",
            import_images_argv(bins, images),
            requires=["containerd"],
            oneshot=True,
        ),
    ]
    if topology.flavor == "kubeadm":
        return [
            *components,
            component(
                "kubelet",
                kubeadm_kubelet_argv(bins),
                requires=["import-images"],
            ),
        ]
    if node.control_plane:
        components += control_plane_components(bins, node, topology)
    components += [
        component(
            "kubelet", kubelet_argv(bins, node), requires=["import-images"]
        ),
        component("kube-proxy", kube_proxy_argv(bins)),
    ]
    return components


def control_plane_components(
    bins: Binaries, node: LabNode, topology: Topology
) -> list[dict[str, Any]]:
    """etcd, the API server, controller-manager and scheduler."""
    cm_conf = kubeconfig_path("controller-manager")
    sched_conf = kubeconfig_path("scheduler")
    return [
        component("etcd", etcd_argv(bins, node, topology)),
        component(
            "kube-apiserver",
            apiserver_argv(bins, node, topology.flavor == "managed"),
        ),
        component(
            "kube-controller-manager", controller_manager_argv(bins, cm_conf)
        ),
        component("kube-scheduler", scheduler_argv(bins, sched_conf)),
    ]


def component(name: str, argv: list[str], **extra: Any) -> dict[str, Any]:
    """One supervisor component spec, restarted after RESTART_DELAY_S."""
    return {
        "name": name,
        "argv": argv,
        "restart_delay_s": RESTART_DELAY_S,
        **extra,
    }


def containerd_argv(bins: Binaries) -> list[str]:
    return [
        str(bins.containerd / "containerd"),
        "--config",
        "/etc/containerd/config.toml",
    ]


def import_images_argv(bins: Binaries, images: list[Path]) -> list[str]:
    """Import the lab's image tarballs: the lab pulls nothing."""
    ctr = str(bins.containerd / "ctr")
    import_cmd = " && ".join(
        f"{ctr} -n k8s.io images import --local {img}" for img in images
    )
    return ["/bin/sh", "-c", import_cmd]


def etcd_argv(bins: Binaries, node: LabNode, topology: Topology) -> list[str]:
    cluster = ",".join(
        f"{n.name}=https://{n.ip}:{ETCD_PEER_PORT}"
        for n in topology.control_planes
    )
    client = f"https://{node.ip}:{ETCD_CLIENT_PORT}"
    peer = f"https://{node.ip}:{ETCD_PEER_PORT}"
    e = f"{PKI}/etcd"
    return [
        str(bins.etcd / "etcd"),
        f"--name={node.name}",
        "--data-dir=/var/lib/etcd",
        f"--listen-client-urls=https://127.0.0.1:{ETCD_CLIENT_PORT},{client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={cluster}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token={LAB_NAME}",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--client-cert-auth=true",
        f"--trusted-ca-file={e}/ca.crt",
        f"--cert-file={e}/{node.name}-server.crt",
        f"--key-file={e}/{node.name}-server.key",
        "--peer-client-cert-auth=true",
        f"--peer-trusted-ca-file={e}/ca.crt",
        f"--peer-cert-file={e}/{node.name}-peer.crt",
        f"--peer-key-file={e}/{node.name}-peer.key",
        "--pre-vote=true",
        "--snapshot-count=10000",
        "--quota-backend-bytes=2147483648",
    ]


def apiserver_argv(
    bins: Binaries, node: LabNode, endpoint_routing: bool = False
) -> list[str]:
    """``endpoint_routing``: a control plane without kube-proxy (managed)
    calls webhooks and aggregated APIs at their endpoints, not their
    ClusterIP, as managed offerings do."""
    routing = ["--enable-aggregator-routing=true"] if endpoint_routing else []
    return [
        bins.k8s("kube-apiserver"),
        f"--advertise-address={node.ip}",
        f"--secure-port={APISERVER_PORT}",
        f"--etcd-servers=https://127.0.0.1:{ETCD_CLIENT_PORT}",
        f"--etcd-cafile={PKI}/etcd/ca.crt",
        f"--etcd-certfile={PKI}/apiserver-etcd-client.crt",
        f"--etcd-keyfile={PKI}/apiserver-etcd-client.key",
        f"--client-ca-file={PKI}/ca.crt",
        f"--tls-cert-file={PKI}/apiserver.crt",
        f"--tls-private-key-file={PKI}/apiserver.key",
        f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt",
        f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types=InternalIP",
        "--service-account-issuer=https://kubernetes.default.svc."
        + CLUSTER_DOMAIN,
        f"--service-account-key-file={PKI}/sa.pub",
        f"--service-account-signing-key-file={PKI}/sa.key",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        "--profiling=false",
        *routing,
        "--v=1",
    ]


def _elected(kubeconfig: str) -> list[str]:
    """Flags kubeadm gives both leader-elected control-plane components."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=true",
    ]


def controller_manager_argv(bins: Binaries, kubeconfig: str) -> list[str]:
    return [
        bins.k8s("kube-controller-manager"),
        *_elected(kubeconfig),
        f"--cluster-signing-cert-file={PKI}/ca.crt",
        f"--cluster-signing-key-file={PKI}/ca.key",
        f"--root-ca-file={PKI}/ca.crt",
        f"--service-account-private-key-file={PKI}/sa.key",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--use-service-account-credentials=true",
        "--allocate-node-cidrs=false",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--v=1",
    ]


def scheduler_argv(bins: Binaries, kubeconfig: str) -> list[str]:
    return [
        bins.k8s("kube-scheduler"),
        *_elected(kubeconfig),
        "--v=1",
    ]


def kubelet_argv(bins: Binaries, node: LabNode) -> list[str]:
    return [
        bins.k8s("kubelet"),
        "--config=/etc/kubernetes/kubelet-config.yaml",
        f"--kubeconfig={kubeconfig_path('kubelet')}",
        f"--hostname-override={node.name}",
        f"--node-ip={node.ip}",
        "--v=1",
    ]


KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
KUBEADM_KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"


def kubeadm_kubelet_argv(bins: Binaries) -> list[str]:
    """The kubelet as kubeadm's systemd drop-in (10-kubeadm.conf) runs it.

    Until ``kubeadm init/join`` has written its configuration the kubelet
    waits, as a systemd unit would crash-loop; then it runs with
    kubeadm's flags file, and exec keeps the kubelet's own argv visible.
    """
    script = (
        f"until [ -s {KUBEADM_KUBELET_CONFIG} ] && [ -s {KUBEADM_FLAGS} ]; "
        "do sleep 0.5; done; "
        f". {KUBEADM_FLAGS}; "
        f"exec {bins.k8s('kubelet')} "
        f"--bootstrap-kubeconfig={kubeconfig_path('bootstrap-kubelet')} "
        f"--kubeconfig={kubeconfig_path('kubelet')} "
        f"--config={KUBEADM_KUBELET_CONFIG} $KUBELET_KUBEADM_ARGS"
    )
    return ["/bin/sh", "-c", script]


def kube_proxy_argv(bins: Binaries) -> list[str]:
    return [
        bins.k8s("kube-proxy"),
        "--config=/etc/kubernetes/kube-proxy-config.yaml",
        "--v=1",
    ]
