"""The lab PKI: right issuers, names and usages, and safe re-runs."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gauntlet.errors import LabError
from gauntlet.lab.pki import NodeIdentity, PkiSpec, ensure_pki, write_kubeconfig

CP1 = NodeIdentity("cp1", "10.250.0.11", control_plane=True)
CP2 = NodeIdentity("cp2", "10.250.0.12", control_plane=True)
W1 = NodeIdentity("w1", "10.250.0.21", control_plane=False)
SPEC = PkiSpec(
    nodes=(CP1, W1),
    apiserver_sans_ips=("10.250.0.10", "127.0.0.1", "10.252.0.1"),
)

CLUSTER_LEAVES = [
    "apiserver",
    "apiserver-kubelet-client",
    "admin",
    "controller-manager",
    "scheduler",
    "kube-proxy",
    "kubelet/cp1-client",
    "kubelet/cp1-server",
    "kubelet/w1-client",
    "kubelet/w1-server",
]
ETCD_LEAVES = [
    "apiserver-etcd-client",
    "etcd/healthcheck-client",
    "etcd/cp1-server",
    "etcd/cp1-peer",
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ensure_pki(d, SPEC)
    return d


def cert(pki_dir: Path, stem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        (pki_dir / f"{stem}.crt").read_bytes()
    )


def cn_and_orgs(c: x509.Certificate) -> tuple[str, list[str]]:
    cn = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    orgs = c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(cn), [str(o.value) for o in orgs]


def sans(c: x509.Certificate) -> tuple[set[str], set[str]]:
    ext = c.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    dns = set(ext.value.get_values_for_type(x509.DNSName))
    ips = {str(i) for i in ext.value.get_values_for_type(x509.IPAddress)}
    return dns, ips


def eku(c: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(
        c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )


def snapshot(pki_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(pki_dir)): p.read_bytes()
        for p in sorted(pki_dir.rglob("*"))
        if p.is_file()
    }


def test_cas_are_self_signed_and_distinct(pki: Path) -> None:
    ca, etcd_ca = cert(pki, "ca"), cert(pki, "etcd/ca")
    assert cn_and_orgs(ca)[0] == "kube-gauntlet-ca"
    assert cn_and_orgs(etcd_ca)[0] == "kube-gauntlet-etcd-ca"
    for c in (ca, etcd_ca):
        c.verify_directly_issued_by(c)
        bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.value.ca
        key = c.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == "secp256r1"
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650


@pytest.mark.parametrize("stem", CLUSTER_LEAVES)
def test_cluster_leaves_signed_by_cluster_ca(pki: Path, stem: str) -> None:
    leaf = cert(pki, stem)
    leaf.verify_directly_issued_by(cert(pki, "ca"))
    with pytest.raises(ValueError):
        leaf.verify_directly_issued_by(cert(pki, "etcd/ca"))


@pytest.mark.parametrize("stem", ETCD_LEAVES)
def test_etcd_leaves_signed_by_etcd_ca(pki: Path, stem: str) -> None:
    leaf = cert(pki, stem)
    leaf.verify_directly_issued_by(cert(pki, "etcd/ca"))
    with pytest.raises(ValueError):
        leaf.verify_directly_issued_by(cert(pki, "ca"))


@pytest.mark.parametrize(
    ("stem", "cn", "orgs"),
    [
        ("apiserver", "kube-apiserver", []),
        (
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            ["system:masters"],
        ),
        ("apiserver-etcd-client", "kube-apiserver-etcd-client", []),
        ("etcd/healthcheck-client", "kube-etcd-healthcheck-client", []),
        ("admin", "kubernetes-admin", ["system:masters"]),
        ("controller-manager", "system:kube-controller-manager", []),
        ("scheduler", "system:kube-scheduler", []),
        ("kube-proxy", "system:kube-proxy", []),
        ("kubelet/w1-client", "system:node:w1", ["system:nodes"]),
    ],
)
def test_subjects(pki: Path, stem: str, cn: str, orgs: list[str]) -> None:
    assert cn_and_orgs(cert(pki, stem)) == (cn, orgs)


def test_apiserver_sans_cover_lb_service_and_control_plane(pki: Path) -> None:
    dns, ips = sans(cert(pki, "apiserver"))
    assert dns == {*SPEC.apiserver_sans_dns, "cp1"}
    assert ips == {"10.250.0.10", "127.0.0.1", "10.252.0.1", CP1.ip}
    assert W1.ip not in ips
    assert eku(cert(pki, "apiserver")) == {ExtendedKeyUsageOID.SERVER_AUTH}


def test_etcd_and_kubelet_serving_certs(pki: Path) -> None:
    both = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    server, peer = cert(pki, "etcd/cp1-server"), cert(pki, "etcd/cp1-peer")
    assert sans(server) == ({"cp1", "localhost"}, {CP1.ip, "127.0.0.1"})
    assert sans(peer) == ({"cp1"}, {CP1.ip, "127.0.0.1"})
    assert eku(server) == eku(peer) == both
    assert not (pki / "etcd/w1-server.crt").exists()
    kubelet = cert(pki, "kubelet/w1-server")
    assert sans(kubelet) == ({"w1"}, {W1.ip})
    assert eku(kubelet) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert eku(cert(pki, "admin")) == {ExtendedKeyUsageOID.CLIENT_AUTH}


def test_keys_are_private_and_match_certs(pki: Path) -> None:
    keys = list(pki.rglob("*.key"))
    assert len(keys) == 2 + len(CLUSTER_LEAVES) + len(ETCD_LEAVES) + 1
    for key_path in keys:
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600, key_path
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        if key_path.name == "sa.key":
            pub = serialization.load_pem_public_key(
                (pki / "sa.pub").read_bytes()
            )
            assert pub == key.public_key()
            continue
        c = x509.load_pem_x509_certificate(
            key_path.with_suffix(".crt").read_bytes()
        )
        assert c.public_key() == key.public_key()


def test_rerun_changes_nothing(tmp_path: Path) -> None:
    ensure_pki(tmp_path, SPEC)
    before = snapshot(tmp_path)
    ensure_pki(tmp_path, SPEC)
    assert snapshot(tmp_path) == before


def test_node_change_resigns_only_affected_leaves(tmp_path: Path) -> None:
    ensure_pki(tmp_path, SPEC)
    before = snapshot(tmp_path)
    ensure_pki(tmp_path, PkiSpec((CP1, CP2, W1), SPEC.apiserver_sans_ips))
    after = snapshot(tmp_path)
    assert after["ca.crt"] == before["ca.crt"]
    assert after["etcd/ca.crt"] == before["etcd/ca.crt"]
    assert after["apiserver.key"] == before["apiserver.key"]
    assert after["apiserver.crt"] != before["apiserver.crt"]
    assert after["admin.crt"] == before["admin.crt"]
    dns, ips = sans(cert(tmp_path, "apiserver"))
    assert "cp2" in dns and CP2.ip in ips
    cert(tmp_path, "etcd/cp2-peer").verify_directly_issued_by(
        cert(tmp_path, "etcd/ca")
    )


def test_crash_before_ca_cert_reuses_key(tmp_path: Path) -> None:
    ensure_pki(tmp_path, SPEC)
    ca_key = (tmp_path / "ca.key").read_bytes()
    (tmp_path / "ca.crt").unlink()
    ensure_pki(tmp_path, SPEC)
    assert (tmp_path / "ca.key").read_bytes() == ca_key
    # Same key and name, so every leaf handed out before still verifies.
    cert(tmp_path, "admin").verify_directly_issued_by(cert(tmp_path, "ca"))


def test_unreadable_ca_key_is_an_error(tmp_path: Path) -> None:
    ensure_pki(tmp_path, SPEC)
    (tmp_path / "ca.key").write_text("garbage")
    with pytest.raises(LabError, match="ca.key"):
        ensure_pki(tmp_path, SPEC)


def test_kubeconfig_embeds_credentials(pki: Path, tmp_path: Path) -> None:
    path = tmp_path / "admin.conf"
    write_kubeconfig(
        path,
        server="https://10.250.0.10:6443",
        ca_file=pki / "ca.crt",
        cert_file=pki / "admin.crt",
        key_file=pki / "admin.key",
        user="kubernetes-admin",
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cfg = yaml.safe_load(path.read_text())
    assert cfg["current-context"] == "kube-gauntlet-lab"
    (ctx,) = cfg["contexts"]
    assert ctx["context"] == {
        "cluster": "kube-gauntlet-lab",
        "user": "kubernetes-admin",
    }
    (cluster,) = cfg["clusters"]
    assert cluster["cluster"]["server"] == "https://10.250.0.10:6443"
    ca_data = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
    assert ca_data == (pki / "ca.crt").read_bytes()
    (user,) = cfg["users"]
    creds = user["user"]
    assert (
        base64.b64decode(creds["client-certificate-data"])
        == (pki / "admin.crt").read_bytes()
    )
    assert (
        base64.b64decode(creds["client-key-data"])
        == (pki / "admin.key").read_bytes()
    )
    assert "client-certificate" not in creds


def test_kubeconfig_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="nope.crt"):
        write_kubeconfig(
            tmp_path / "x.conf",
            server="https://127.0.0.1:6443",
            ca_file=tmp_path / "nope.crt",
            cert_file=tmp_path / "nope.crt",
            key_file=tmp_path / "nope.key",
            user="u",
        )


def test_bad_ip_san_is_an_error(tmp_path: Path) -> None:
    spec = PkiSpec(nodes=(CP1,), apiserver_sans_ips=("not-an-ip",))
    with pytest.raises(LabError, match="not-an-ip"):
        ensure_pki(tmp_path, spec)
