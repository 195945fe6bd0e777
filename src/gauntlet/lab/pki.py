"""The lab cluster's certificates, laid out like kubeadm's ``pki`` directory.

Everything is generated locally with ``cryptography`` (EC P-256, SHA-256, ten
years) so the lab needs neither kubeadm nor openssl. ``ensure_pki`` is
idempotent: CAs and keys survive re-runs, so a lab rebuilt after a crash
keeps trusting what it already handed out, and only leaf certificates whose
names, issuer or key no longer fit the spec are re-signed.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gauntlet.errors import LabError
from gauntlet.wellknown import LAB_NAME

_VALIDITY = dt.timedelta(days=3650)
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between VMs
_RENEW_BEFORE = dt.timedelta(days=30)

_PEM = serialization.Encoding.PEM
_Cert = x509.Certificate
_Key = ec.EllipticCurvePrivateKey

_DEFAULT_DNS = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
)


@dataclass(frozen=True)
class NodeIdentity:
    """A lab node as the certificates need to know it."""

    name: str
    ip: str
    control_plane: bool


@dataclass(frozen=True)
class PkiSpec:
    """What the certificates must cover; a change re-signs affected leaves."""

    nodes: tuple[NodeIdentity, ...]
    apiserver_sans_ips: tuple[str, ...]
    apiserver_sans_dns: tuple[str, ...] = _DEFAULT_DNS


@dataclass(frozen=True)
class _Leaf:
    """One leaf certificate to ensure: its file stem, subject, use and SANs."""

    stem: str
    cn: str
    ca: str  # "ca" or "etcd/ca"
    orgs: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()


def ensure_pki(pki_dir: Path, spec: PkiSpec) -> None:
    """Create whatever is missing or stale under ``pki_dir``; keep the rest."""
    cas = {
        "ca": _ensure_ca(pki_dir, "ca", "kube-gauntlet-ca"),
        "etcd/ca": _ensure_ca(pki_dir, "etcd/ca", "kube-gauntlet-etcd-ca"),
    }
    _ensure_sa_keypair(pki_dir)
    for leaf in _leaves(spec):
        ca_cert, ca_key = cas[leaf.ca]
        _ensure_leaf(pki_dir, leaf, ca_cert, ca_key)


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_file: Path,
    cert_file: Path,
    key_file: Path,
    user: str,
    cluster_name: str = LAB_NAME,
    context_name: str = LAB_NAME,
) -> None:
    """Write a self-contained kubeconfig so it still works if pki_dir moves."""

    def b64(file: Path) -> str:
        try:
            return base64.b64encode(file.read_bytes()).decode("ascii")
        except OSError as exc:
            raise LabError(
                f"kubeconfig {path}: cannot read {file}: {exc}"
            ) from exc

    creds = {
        "client-certificate-data": b64(cert_file),
        "client-key-data": b64(key_file),
    }
    cluster = {"server": server, "certificate-authority-data": b64(ca_file)}
    context = {"cluster": cluster_name, "user": user}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": creds}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
        "preferences": {},
    }
    text = yaml.safe_dump(config, default_flow_style=False, sort_keys=False)
    _write_atomic(path, text.encode(), 0o600)


def _leaves(spec: PkiSpec) -> list[_Leaf]:
    """Every leaf certificate the spec calls for, in kubeadm's naming."""
    cps = [n for n in spec.nodes if n.control_plane]
    masters = ("system:masters",)
    leaves = [
        _Leaf(
            "apiserver",
            "kube-apiserver",
            "ca",
            server=True,
            dns=(*spec.apiserver_sans_dns, *(n.name for n in cps)),
            ips=(*spec.apiserver_sans_ips, *(n.ip for n in cps)),
        )
    ]
    for stem, cn, ca, orgs in (
        ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "ca",
         masters),
        ("apiserver-etcd-client", "kube-apiserver-etcd-client", "etcd/ca", ()),
        ("etcd/healthcheck-client", "kube-etcd-healthcheck-client", "etcd/ca",
         ()),
        ("admin", "kubernetes-admin", "ca", masters),
        ("controller-manager", "system:kube-controller-manager", "ca", ()),
        ("scheduler", "system:kube-scheduler", "ca", ()),
        ("kube-proxy", "system:kube-proxy", "ca", ()),
    ):  # fmt: skip
        leaves.append(_Leaf(stem, cn, ca, orgs, client=True))
    for n in cps:
        local = ("127.0.0.1",)
        etcd = f"etcd/{n.name}"
        leaves += [
            _Leaf(f"{etcd}-server", n.name, "etcd/ca", server=True,
                  client=True, dns=(n.name, "localhost"), ips=(n.ip, *local)),
            _Leaf(f"{etcd}-peer", n.name, "etcd/ca", server=True,
                  client=True, dns=(n.name,), ips=(n.ip, *local)),
        ]  # fmt: skip
    for n in spec.nodes:
        cn, orgs = f"system:node:{n.name}", ("system:nodes",)
        leaves += [
            _Leaf(f"kubelet/{n.name}-client", cn, "ca", orgs, client=True),
            _Leaf(f"kubelet/{n.name}-server", cn, "ca", orgs, server=True,
                  dns=(n.name,), ips=(n.ip,)),
        ]  # fmt: skip
    return leaves


def _ensure_ca(pki_dir: Path, stem: str, cn: str) -> tuple[_Cert, _Key]:
    """Load the CA if both halves exist, else create the missing half."""
    crt_path, key_path = pki_dir / f"{stem}.crt", pki_dir / f"{stem}.key"
    if crt_path.exists() and not key_path.exists():
        raise LabError(f"{crt_path} has no {key_path}; delete {pki_dir}")
    key = _ensure_key(key_path)
    if crt_path.exists():
        cert = _load_cert(crt_path)
        if not _same_public_key(cert, key):
            raise LabError(f"{crt_path} does not match {key_path}")
        return cert, key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    exts: list[x509.ExtensionType] = [_key_usage(ca=True), ski]
    cert = _sign(name, key, name, key, exts, ca=True)
    _write_atomic(crt_path, cert.public_bytes(_PEM), 0o644)
    return cert, key


def _ensure_leaf(pki_dir: Path, leaf: _Leaf, ca: _Cert, ca_key: _Key) -> None:
    """Sign ``leaf`` unless an existing certificate already fits it."""
    crt_path = pki_dir / f"{leaf.stem}.crt"
    key = _ensure_key(pki_dir / f"{leaf.stem}.key")
    if crt_path.exists() and _fits(_load_cert(crt_path), leaf, ca, key):
        return
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in leaf.orgs
    ]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, leaf.cn))
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if leaf.server else []
    usages += [ExtendedKeyUsageOID.CLIENT_AUTH] if leaf.client else []
    exts: list[x509.ExtensionType] = [
        _key_usage(ca=False),
        x509.ExtendedKeyUsage(usages),
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
    ]
    if sans := _sans(leaf):
        exts.append(x509.SubjectAlternativeName(sans))
    cert = _sign(x509.Name(attrs), key, ca.subject, ca_key, exts, ca=False)
    _write_atomic(crt_path, cert.public_bytes(_PEM), 0o644)


def _sign(
    subject: x509.Name,
    key: _Key,
    issuer: x509.Name,
    issuer_key: _Key,
    exts: list[x509.ExtensionType],
    *,
    ca: bool,
) -> _Cert:
    """Issue a ten-year certificate; key usage is the only critical extra."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    )
    for ext in exts:
        critical = isinstance(ext, x509.KeyUsage)
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _fits(cert: _Cert, leaf: _Leaf, ca: _Cert, key: _Key) -> bool:
    """Whether an existing leaf can be kept: same CA, key, subject and SANs."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if not _same_public_key(cert, key):
        return False
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < _RENEW_BEFORE:
        return False
    subject = cert.subject
    cn = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if [a.value for a in cn] != [leaf.cn]:
        return False
    if sorted(str(a.value) for a in orgs) != sorted(leaf.orgs):
        return False
    try:
        ext = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        have = set(ext.value)
    except x509.ExtensionNotFound:
        have = set()
    return have == set(_sans(leaf))


def _sans(leaf: _Leaf) -> list[x509.GeneralName]:
    """The leaf's SANs, de-duplicated in a stable order."""
    names: list[x509.GeneralName] = [
        x509.DNSName(d) for d in dict.fromkeys(leaf.dns)
    ]
    for ip in dict.fromkeys(leaf.ips):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError as exc:
            raise LabError(f"cert {leaf.stem}: bad IP SAN {ip!r}") from exc
    return names


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """CAs sign certificates; leaves only sign TLS handshakes (ECDSA)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _ensure_sa_keypair(pki_dir: Path) -> None:
    """Keep sa.key (tokens stay valid across re-runs); derive sa.pub from it."""
    key = _ensure_key(pki_dir / "sa.key")
    pub = key.public_key().public_bytes(
        _PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub_path = pki_dir / "sa.pub"
    if not pub_path.exists() or pub_path.read_bytes() != pub:
        _write_atomic(pub_path, pub, 0o644)


def _ensure_key(path: Path) -> _Key:
    """Load the EC key at ``path``, creating it (mode 0600) if missing."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(
                path.read_bytes(), password=None
            )
        except (OSError, ValueError, TypeError) as exc:
            raise LabError(f"cannot load private key {path}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise LabError(f"{path} is not an EC private key")
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        _PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    _write_atomic(path, pem, 0o600)
    return key


def _load_cert(path: Path) -> _Cert:
    """Read a PEM certificate, or say which file is broken."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise LabError(f"cannot load certificate {path}: {exc}") from exc


def _same_public_key(cert: _Cert, key: _Key) -> bool:
    """Whether ``cert`` certifies ``key``, compared by encoded public key."""
    fmt = (
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    have = cert.public_key().public_bytes(*fmt)
    return have == key.public_key().public_bytes(*fmt)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via tmp file + rename so a crash never leaves half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
