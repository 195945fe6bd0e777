"""A node's configuration files: kubelet, kube-proxy, containerd, CNI.

Owns the content of every config file a node reads besides its PKI and
kubeconfigs: the kubelet and kube-proxy configurations, containerd's
config.toml, the bridge CNI conflist, and the node's resolv.conf and
hosts (the lab has no upstream DNS; nodes know each other by name).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from gauntlet.lab.nodepki import PKI
from gauntlet.lab.paths import NodePaths
from gauntlet.lab.topology import (
    BRIDGE_IP,
    CLUSTER_DOMAIN,
    DNS_SERVICE_IP,
    POD_CIDR,
    LabNode,
    Topology,
)

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
UPSTREAM_RESOLV_CONF = "/etc/kubernetes/upstream-resolv.conf"
"""What ``dnsPolicy: Default`` pods get on a kubeadm-flavored lab.

kubeadm's CoreDNS forwards to its pod's resolv.conf and refuses to start
without a nameserver there. The host's end of the lab bridge answers no
DNS, so a lookup that leaves the cluster fails at once, as the lab's
no-route-out rule wants.
"""


def write_config_files(
    np: NodePaths, node: LabNode, topology: Topology, sandbox_image: str
) -> None:
    """Write the node's config files into its host-side directories."""
    etc = np.etc_kubernetes
    (etc / "kubelet-config.yaml").write_text(
        yaml.safe_dump(kubelet_config(node))
    )
    (etc / "kube-proxy-config.yaml").write_text(
        yaml.safe_dump(kube_proxy_config(node))
    )
    (np.root / "etc-containerd" / "config.toml").write_text(
        containerd_toml(sandbox_image)
    )
    (np.root / "cni-conf" / "10-kg-bridge.conflist").write_text(
        json.dumps(cni_conflist(node), indent=2)
    )
    (np.root / "resolv.conf").write_text("# kube-gauntlet lab: no upstream\n")
    (etc / UPSTREAM_RESOLV_CONF.rsplit("/", 1)[1]).write_text(
        f"# kube-gauntlet lab: nothing answers here\nnameserver {BRIDGE_IP}\n"
    )
    (np.root / "hosts").write_text(
        "127.0.0.1 localhost\n"
        + "".join(f"{n.ip} {n.name}\n" for n in topology.nodes)
    )


def containerd_toml(sandbox_image: str) -> str:
    """containerd's config: overlayfs, runc, CNI, a pinned pause image."""
    return f"""version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri"]

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{sandbox_image}"

[plugins.'io.containerd.cri.v1.runtime']
  # This host may not lower oom_score_adj (no CAP_SYS_RESOURCE over it):
  # clamp pod scores at containerd's own instead of failing every sandbox.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
    conf_dir = "/etc/cni/net.d"
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      SystemdCgroup = false
      BinaryName = "/usr/sbin/runc"
"""


def cni_conflist(node: LabNode) -> dict[str, Any]:
    """A bridge network handing out the node's own pod range."""
    return {
        "cniVersion": "1.0.0",
        "name": "kg-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": node.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(node: LabNode) -> dict[str, Any]:
    """KubeletConfiguration; thresholds sized for a shared CI host."""
    cfg: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.cgroup_root,
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": f"{PKI}/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "",
        "tlsCertFile": f"{PKI}/kubelet/{node.name}-server.crt",
        "tlsPrivateKeyFile": f"{PKI}/kubelet/{node.name}-server.key",
        "staticPodPath": "/etc/kubernetes/manifests",
        "failSwapOn": False,
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "cpuManagerPolicy": "none",
        "memoryManagerPolicy": "None",
        "topologyManagerPolicy": "none",
        "serializeImagePulls": False,
        "maxPods": 110,
        "systemReserved": {"memory": "512Mi"},
        "healthzBindAddress": node.ip,
    }
    if node.control_plane:
        cfg["registerWithTaints"] = [
            {
                "key": "node-role.kubernetes.io/control-plane",
                "effect": "NoSchedule",
            }
        ]
    return cfg


def kube_proxy_config(node: LabNode) -> dict[str, Any]:
    """KubeProxyConfiguration; conntrack left as the host has it."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": "/etc/kubernetes/kube-proxy.conf"},
        "hostnameOverride": node.name,
        "clusterCIDR": POD_CIDR,
        "bindAddress": node.ip,
        "metricsBindAddress": f"{node.ip}:10249",
        "healthzBindAddress": f"{node.ip}:10256",
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
