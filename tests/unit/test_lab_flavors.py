"""The lab's flavors: which nodes run what, and kubeadm's configuration."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gauntlet.errors import UsageError
from gauntlet.lab.components import Binaries, node_components
from gauntlet.lab.kubeadm_config import (
    CONTROL_PLANE_ENDPOINT,
    JoinSecrets,
    ca_cert_hash,
    etcd_image_tag,
    images,
    init_config,
    join_config,
)
from gauntlet.lab.nodefiles import UPSTREAM_RESOLV_CONF
from gauntlet.lab.topology import FLAVORS, plan
from gauntlet.lab.versions import CURRENT

BINS = Binaries(Path("/k8s"), Path("/etcd"), Path("/ctrd"))
KEYS = JoinSecrets("abcdef.0123456789abcdef", "ab" * 32, "sha256:" + "0" * 64)


def names(components: list[dict[str, object]]) -> list[object]:
    return [c["name"] for c in components]


def test_every_flavor_plans_the_same_addresses() -> None:
    shapes = {f: plan(3, 2, f) for f in FLAVORS}
    assert {tuple(t.nodes) for t in shapes.values()} == {
        shapes["services"].nodes
    }


def test_an_unknown_flavor_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--flavor must be one of"):
        plan(3, 2, "k3s")


def test_a_managed_lab_needs_a_worker_to_be_a_cluster() -> None:
    with pytest.raises(UsageError, match="at least one worker"):
        plan(1, 0, "managed")


def test_managed_control_planes_are_no_nodes_of_the_cluster() -> None:
    topo = plan(3, 2, "managed")
    assert [n.name for n in topo.kubelet_nodes] == ["w1", "w2"]
    cp1 = topo.node("cp1")
    assert names(node_components(BINS, cp1, topo, [])) == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    assert "kubelet" in names(node_components(BINS, topo.node("w1"), topo, []))


def test_kubeadm_nodes_run_only_the_runtime_and_a_waiting_kubelet() -> None:
    topo = plan(3, 2, "kubeadm")
    for node in topo.nodes:
        components = node_components(BINS, node, topo, [])
        assert names(components) == ["containerd", "import-images", "kubelet"]
        script = components[-1]["argv"][-1]  # type: ignore[index]
        assert "until [ -s /var/lib/kubelet/config.yaml ]" in script
        assert "$KUBELET_KUBEADM_ARGS" in script
        assert "exec /k8s/kubelet" in script


def test_kubeadm_init_config_is_kubeadms_own_with_the_labs_host_needs() -> None:
    topo = plan(3, 2, "kubeadm")
    docs = list(
        yaml.safe_load_all(init_config(topo, topo.node("cp1"), KEYS, CURRENT))
    )
    kinds = [d["kind"] for d in docs]
    assert kinds == [
        "InitConfiguration",
        "ClusterConfiguration",
        "KubeletConfiguration",
        "KubeProxyConfiguration",
    ]
    init, cluster, kubelet, proxy = docs
    assert init["localAPIEndpoint"]["advertiseAddress"] == "10.250.0.11"
    assert init["nodeRegistration"]["imagePullPolicy"] == "Never"
    extra = {
        a["name"]: a["value"]
        for a in init["nodeRegistration"]["kubeletExtraArgs"]
    }
    assert extra == {"node-ip": "10.250.0.11", "cgroup-root": "/kg-cp1"}
    assert cluster["controlPlaneEndpoint"] == CONTROL_PLANE_ENDPOINT
    assert cluster["etcd"]["local"]["imageTag"] == etcd_image_tag(CURRENT)
    assert "podSubnet" not in cluster["networking"]
    assert kubelet["failCgroupV1"] is False
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["resolvConf"] == UPSTREAM_RESOLV_CONF
    for per_node in ("cgroupRoot", "tlsCertFile", "healthzBindAddress"):
        assert per_node not in kubelet
    assert proxy["conntrack"]["maxPerCore"] == 0


def test_control_plane_joins_carry_the_certificate_key_workers_do_not() -> None:
    topo = plan(3, 2, "kubeadm")
    cp2 = yaml.safe_load(join_config(topo.node("cp2"), KEYS))
    w1 = yaml.safe_load(join_config(topo.node("w1"), KEYS))
    assert cp2["controlPlane"]["certificateKey"] == KEYS.certificate_key
    assert (
        cp2["controlPlane"]["localAPIEndpoint"]["advertiseAddress"]
        == "10.250.0.12"
    )
    assert "controlPlane" not in w1
    token = w1["discovery"]["bootstrapToken"]
    assert token["caCertHashes"] == [KEYS.ca_cert_hash]
    assert token["apiServerEndpoint"] == CONTROL_PLANE_ENDPOINT


def test_a_join_without_the_ca_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="public key hash"):
        join_config(plan(1, 1, "kubeadm").node("w1"), JoinSecrets("t", "k"))


def test_images_carry_the_names_kubeadm_asks_for() -> None:
    named = images(CURRENT)
    assert named["registry.k8s.io/kube-apiserver:v1.37.2"] == "kube-apiserver"
    assert named["registry.k8s.io/etcd:3.7.3-0"] == "etcd"


def test_the_ca_hash_is_the_sha256_of_its_public_key_info() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    assert ca_cert_hash(pem) == "sha256:" + digest.finalize().hex()
