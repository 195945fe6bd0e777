"""kubeadm's configuration files for a lab of the ``kubeadm`` flavor.

Pure: the same topology and secrets always give the same documents.
What differs from a stock ``kubeadm init`` is only what the host forces on
every lab (see ``nodefiles``): cgroup v1 with the cgroupfs driver, one
cgroup root per node, relaxed eviction, no upstream DNS, and images that
are imported, never pulled. Everything else is kubeadm's own default: the
static pod manifests, the PKI, kube-proxy and CoreDNS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gauntlet.lab.nodefiles import (
    CONTAINERD_SOCKET,
    UPSTREAM_RESOLV_CONF,
    kube_proxy_config,
    kubelet_config,
)
from gauntlet.lab.topology import (
    BRIDGE_IP,
    CLUSTER_DOMAIN,
    SERVICE_CIDR,
    LabNode,
    Topology,
)
from gauntlet.lab.versions import Release
from gauntlet.wellknown import APISERVER_PORT

API = "kubeadm.k8s.io/v1beta4"
CONTROL_PLANE_ENDPOINT = f"{BRIDGE_IP}:{APISERVER_PORT}"
"""The lab's load balancer: the HA endpoint every node joins through."""

_PER_NODE_KUBELET_KEYS = (
    "cgroupRoot",
    "tlsCertFile",
    "tlsPrivateKeyFile",
    "healthzBindAddress",
    "registerWithTaints",
)
"""Kubelet settings that differ per node or that kubeadm owns itself."""


@dataclass(frozen=True)
class JoinSecrets:
    """What a node needs to join: the bootstrap token and the upload key."""

    token: str
    certificate_key: str
    ca_cert_hash: str = ""


def etcd_image_tag(release: Release) -> str:
    """kubeadm's tag scheme for etcd images (``3.7.3-0``)."""
    return f"{release.etcd.lstrip('v')}-0"


def images(release: Release) -> dict[str, str]:
    """Image name -> binary for each control-plane image kubeadm runs."""
    repo = "registry.k8s.io"
    v = release.kubernetes
    return {
        f"{repo}/kube-apiserver:{v}": "kube-apiserver",
        f"{repo}/kube-controller-manager:{v}": "kube-controller-manager",
        f"{repo}/kube-scheduler:{v}": "kube-scheduler",
        f"{repo}/kube-proxy:{v}": "kube-proxy",
        f"{repo}/etcd:{etcd_image_tag(release)}": "etcd",
    }


def init_config(
    topology: Topology, node: LabNode, secrets: JoinSecrets, release: Release
) -> str:
    """``kubeadm init --config`` for the first control-plane node."""
    init = {
        "apiVersion": API,
        "kind": "InitConfiguration",
        "bootstrapTokens": [
            {
                "token": secrets.token,
                "ttl": "24h0m0s",
                "groups": ["system:bootstrappers:kubeadm:default-node-token"],
                "usages": ["signing", "authentication"],
            }
        ],
        "certificateKey": secrets.certificate_key,
        "localAPIEndpoint": {
            "advertiseAddress": node.ip,
            "bindPort": APISERVER_PORT,
        },
        "nodeRegistration": _registration(node),
        "timeouts": _timeouts(),
    }
    return _documents(
        init,
        cluster_configuration(topology, release),
        shared_kubelet_config(),
        shared_kube_proxy_config(),
    )


def join_config(node: LabNode, secrets: JoinSecrets) -> str:
    """``kubeadm join --config`` for any later node, control plane or not."""
    if not secrets.ca_cert_hash:
        raise ValueError("a join needs the CA's public key hash")
    join: dict[str, Any] = {
        "apiVersion": API,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": CONTROL_PLANE_ENDPOINT,
                "token": secrets.token,
                "caCertHashes": [secrets.ca_cert_hash],
            }
        },
        "nodeRegistration": _registration(node),
        "timeouts": _timeouts(),
    }
    if node.control_plane:
        join["controlPlane"] = {
            "localAPIEndpoint": {
                "advertiseAddress": node.ip,
                "bindPort": APISERVER_PORT,
            },
            "certificateKey": secrets.certificate_key,
        }
    return _documents(join)


def cluster_configuration(
    topology: Topology, release: Release
) -> dict[str, Any]:
    """The cluster-wide part; no podSubnet, as node CIDRs are static."""
    return {
        "apiVersion": API,
        "kind": "ClusterConfiguration",
        "clusterName": "kubernetes",  # kubeadm's default: nothing lab-only
        "kubernetesVersion": release.kubernetes,
        "controlPlaneEndpoint": CONTROL_PLANE_ENDPOINT,
        "imageRepository": "registry.k8s.io",
        "networking": {
            "serviceSubnet": SERVICE_CIDR,
            "dnsDomain": CLUSTER_DOMAIN,
        },
        "etcd": {
            "local": {
                "imageTag": etcd_image_tag(release),
                "dataDir": "/var/lib/etcd",
                "extraArgs": _args(
                    {
                        "snapshot-count": "10000",
                        "quota-backend-bytes": "2147483648",
                    }
                ),
            }
        },
        "apiServer": {
            "certSANs": [BRIDGE_IP, "127.0.0.1"],
            "extraArgs": _args({"profiling": "false"}),
        },
        "controllerManager": {"extraArgs": _args({"profiling": "false"})},
        "scheduler": {"extraArgs": _args({"profiling": "false"})},
    }


def shared_kubelet_config() -> dict[str, Any]:
    """The lab's kubelet settings that hold on every node."""
    sample = LabNode("x", 0, "0.0.0.0", False)
    cfg = {
        k: v
        for k, v in kubelet_config(sample).items()
        if k not in _PER_NODE_KUBELET_KEYS
    }
    cfg["resolvConf"] = UPSTREAM_RESOLV_CONF
    return cfg


def shared_kube_proxy_config() -> dict[str, Any]:
    """kube-proxy as a DaemonSet: kubeadm fills in names and kubeconfig."""
    sample = LabNode("x", 0, "0.0.0.0", False)
    keep = ("apiVersion", "kind", "mode", "clusterCIDR", "conntrack")
    return {k: v for k, v in kube_proxy_config(sample).items() if k in keep}


def ca_cert_hash(ca_pem: bytes) -> str:
    """``sha256:<hex>`` of the CA's SubjectPublicKeyInfo, as kubeadm pins."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def _registration(node: LabNode) -> dict[str, Any]:
    return {
        "name": node.name,
        "criSocket": f"unix://{CONTAINERD_SOCKET}",
        "imagePullPolicy": "Never",
        # Preflight checks the host (swap, systemd, free ports, kernel
        # modules) rather than the node namespace it runs in.
        "ignorePreflightErrors": ["all"],
        "kubeletExtraArgs": _args(
            {"node-ip": node.ip, "cgroup-root": node.cgroup_root}
        ),
    }


def _timeouts() -> dict[str, str]:
    """Roomy on a 2-core host that boots five nodes at once."""
    return {
        "controlPlaneComponentHealthCheck": "4m0s",
        "kubeletHealthCheck": "4m0s",
        "discovery": "5m0s",
        "tlsBootstrap": "5m0s",
    }


def _args(values: dict[str, str]) -> list[dict[str, str]]:
    """v1beta4's list-of-pairs form of extra arguments."""
    return [{"name": k, "value": v} for k, v in values.items()]


def _documents(*docs: dict[str, Any]) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
