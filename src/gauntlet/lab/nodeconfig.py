"""Per-node configuration: files under the node's /etc and its components.

Control-plane nodes run stacked etcd, kube-apiserver, the controller-manager
and the scheduler as supervised host processes (the kubeadm layout of flags
and files, without static pods); every node runs containerd, the kubelet and
kube-proxy. The kubelet and kube-proxy reach the API through the lab's load
balancer; the controller-manager and scheduler through their local API
server, as kubeadm sets them up.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gauntlet.lab.paths import LabPaths, NodePaths
from gauntlet.lab.pki import write_kubeconfig
from gauntlet.lab.topology import (
    API_PORT,
    CLUSTER_DOMAIN,
    DNS_SERVICE_IP,
    LB_ENDPOINT,
    POD_CIDR,
    SERVICE_CIDR,
    LabNode,
    Topology,
)

PKI = "/etc/kubernetes/pki"
RESTART_DELAY_S = 3.0


@dataclass(frozen=True)
class Binaries:
    """Where the built binaries live on the host."""

    kubernetes: Path
    etcd: Path
    containerd: Path

    def k8s(self, name: str) -> str:
        return str(self.kubernetes / name)


def _copy_pki(src: Path, dst: Path, names: list[str]) -> None:
    for name in names:
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, target)


def _pki_files(node: LabNode) -> list[str]:
    files = [
        "ca.crt",
        f"kubelet/{node.name}-client.crt",
        f"kubelet/{node.name}-client.key",
        f"kubelet/{node.name}-server.crt",
        f"kubelet/{node.name}-server.key",
        "kube-proxy.crt",
        "kube-proxy.key",
    ]
    if node.control_plane:
        files += [
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
            f"etcd/{node.name}-server.crt",
            f"etcd/{node.name}-server.key",
            f"etcd/{node.name}-peer.crt",
            f"etcd/{node.name}-peer.key",
            "etcd/healthcheck-client.crt",
            "etcd/healthcheck-client.key",
        ]
    return files


def _kubeconfig(
    np: NodePaths, pki: Path, name: str, server: str, cert: str, user: str
) -> str:
    """Write /etc/kubernetes/<name>.conf; return its node path."""
    write_kubeconfig(
        np.etc_kubernetes / f"{name}.conf",
        server=server,
        ca_file=pki / "ca.crt",
        cert_file=pki / f"{cert}.crt",
        key_file=pki / f"{cert}.key",
        user=user,
    )
    return f"/etc/kubernetes/{name}.conf"


def _containerd_toml(bins: Binaries, sandbox_image: str) -> str:
    return f"""version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri"]

[grpc]
  address = "/run/containerd/containerd.sock"

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


def _cni_conflist(node: LabNode) -> dict[str, Any]:
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


def _kubelet_config(node: LabNode) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.cgroup_root,
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
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


def _kube_proxy_config(node: LabNode) -> dict[str, Any]:
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


def etcd_argv(bins: Binaries, node: LabNode, topology: Topology) -> list[str]:
    cluster = ",".join(
        f"{n.name}=https://{n.ip}:2380" for n in topology.control_planes
    )
    e = f"{PKI}/etcd"
    return [
        str(bins.etcd / "etcd"),
        f"--name={node.name}",
        "--data-dir=/var/lib/etcd",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{node.ip}:2379",
        f"--advertise-client-urls=https://{node.ip}:2379",
        f"--listen-peer-urls=https://{node.ip}:2380",
        f"--initial-advertise-peer-urls=https://{node.ip}:2380",
        f"--initial-cluster={cluster}",
        "--initial-cluster-state=new",
        "--initial-cluster-token=kube-gauntlet-lab",
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


def apiserver_argv(bins: Binaries, node: LabNode) -> list[str]:
    return [
        bins.k8s("kube-apiserver"),
        f"--advertise-address={node.ip}",
        f"--secure-port={API_PORT}",
        "--etcd-servers=https://127.0.0.1:2379",
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
        "--v=1",
    ]


def controller_manager_argv(bins: Binaries, kubeconfig: str) -> list[str]:
    return [
        bins.k8s("kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=true",
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
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--leader-elect=true",
        "--v=1",
    ]


def _component(name: str, argv: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "argv": argv,
        "restart_delay_s": RESTART_DELAY_S,
        **extra,
    }


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
    for source in np.bind_sources().values():
        source.mkdir(parents=True, exist_ok=True)
    np.logs.mkdir(parents=True, exist_ok=True)
    etc = np.etc_kubernetes
    (etc / "manifests").mkdir(parents=True, exist_ok=True)
    _copy_pki(paths.pki, etc / "pki", _pki_files(node))
    pki = etc / "pki"
    kubelet_conf = _kubeconfig(
        np,
        pki,
        "kubelet",
        LB_ENDPOINT,
        f"kubelet/{node.name}-client",
        f"system:node:{node.name}",
    )
    _kubeconfig(
        np, pki, "kube-proxy", LB_ENDPOINT, "kube-proxy", "system:kube-proxy"
    )
    (etc / "kubelet-config.yaml").write_text(
        yaml.safe_dump(_kubelet_config(node))
    )
    (etc / "kube-proxy-config.yaml").write_text(
        yaml.safe_dump(_kube_proxy_config(node))
    )
    (np.root / "etc-containerd" / "config.toml").write_text(
        _containerd_toml(bins, sandbox_image)
    )
    (np.root / "cni-conf" / "10-kg-bridge.conflist").write_text(
        json.dumps(_cni_conflist(node), indent=2)
    )
    (np.root / "resolv.conf").write_text("# kube-gauntlet lab: no upstream\n")
    (np.root / "hosts").write_text(
        "127.0.0.1 localhost\n"
        + "".join(f"{n.ip} {n.name}\n" for n in topology.nodes)
    )

    ctr = str(bins.containerd / "ctr")
    import_cmd = " && ".join(
        f"{ctr} -n k8s.io images import --local {img}" for img in images
    )
    components = [
        _component(
            "containerd",
            [
                str(bins.containerd / "containerd"),
                "--config",
                "/etc/containerd/config.toml",
            ],
            ready_path="/run/containerd/containerd.sock",
        ),
        _component(
            "import-images",
            ["/bin/sh", "-c", import_cmd],
            requires=["containerd"],
            oneshot=True,
        ),
    ]
    if node.control_plane:
        local = f"https://{node.ip}:{API_PORT}"
        cm_conf = _kubeconfig(
            np,
            pki,
            "controller-manager",
            local,
            "controller-manager",
            "system:kube-controller-manager",
        )
        sched_conf = _kubeconfig(
            np, pki, "scheduler", local, "scheduler", "system:kube-scheduler"
        )
        _kubeconfig(np, pki, "admin", local, "admin", "kubernetes-admin")
        components += [
            _component("etcd", etcd_argv(bins, node, topology)),
            _component("kube-apiserver", apiserver_argv(bins, node)),
            _component(
                "kube-controller-manager",
                controller_manager_argv(bins, cm_conf),
            ),
            _component("kube-scheduler", scheduler_argv(bins, sched_conf)),
        ]
    components += [
        _component(
            "kubelet",
            [
                bins.k8s("kubelet"),
                "--config=/etc/kubernetes/kubelet-config.yaml",
                f"--kubeconfig={kubelet_conf}",
                f"--hostname-override={node.name}",
                f"--node-ip={node.ip}",
                "--v=1",
            ],
            requires=["import-images"],
        ),
        _component(
            "kube-proxy",
            [
                bins.k8s("kube-proxy"),
                "--config=/etc/kubernetes/kube-proxy-config.yaml",
                "--v=1",
            ],
        ),
    ]
    binds = {k: str(v) for k, v in np.bind_sources().items()}
    # etcd keeps its data in memory: the lab shares one VM disk with the
    # whole CI run, and WAL fsync should measure etcd, not that disk.
    tmpfs = ["/var/lib/etcd"]
    for path in tmpfs:
        binds.pop(path, None)
    binds["/etc/resolv.conf"] = str(np.root / "resolv.conf")
    binds["/etc/hosts"] = str(np.root / "hosts")
    config = {
        "node": node.name,
        "hostname": node.name,
        "cgroup_root": node.cgroup_root,
        "socket": str(np.socket),
        "log_dir": str(np.logs),
        "binds": binds,
        "tmpfs": tmpfs,
        "env": {
            "PATH": f"{bins.containerd}:{bins.kubernetes}:{bins.etcd}:"
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CONTAINERD_ADDRESS": "/run/containerd/containerd.sock",
            "CONTAINER_RUNTIME_ENDPOINT": "unix:///run/containerd/containerd.sock",
        },
        "components": components,
    }
    np.config.write_text(json.dumps(config, indent=2))
    return np.config
