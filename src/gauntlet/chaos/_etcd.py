"""etcdctl for the activities, on the lab and on a kubeadm-style cluster.

On the lab, etcdctl runs on the runner host with the lab's health-check
client certificate. Elsewhere it runs inside the ``etcd-<node>`` static
pod of a control-plane node (kubeadm's layout and certificate paths), so
no etcd client credential ever leaves the cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.chaos import _context, _k8s
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.errors import ClusterOperationFailed, GauntletError

__all__ = ["EtcdHash", "EtcdMember", "etcdctl_json", "hashes", "members"]

KUBEADM_PKI = "/etc/kubernetes/pki/etcd"
ETCD_CLIENT_PORT = 2379


@dataclass(frozen=True)
class EtcdMember:
    """One member's view of itself (``etcdctl endpoint status``)."""

    endpoint: str
    member_id: str
    leader_id: str
    """``0`` when the member knows no leader (cut off, pre-voting)."""
    revision: int
    raft_term: int

    @property
    def is_leader(self) -> bool:
        return self.member_id == self.leader_id

    @property
    def host(self) -> str:
        """The endpoint's address without scheme and port."""
        return self.endpoint.split("://", 1)[-1].rsplit(":", 1)[0]


@dataclass(frozen=True)
class EtcdHash:
    """One member's KV hash at ``hash_revision`` (``endpoint hashkv``)."""

    endpoint: str
    revision: int
    """The member's current revision when it answered."""
    hash_revision: int
    hash: int
    compact_revision: int


def etcdctl_json(
    args: list[str],
    configuration: _context.Configuration = None,
    secrets: _context.Secrets = None,
    endpoints: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Run ``etcdctl ARGS -w json`` against every member (or only
    ``endpoints``); parse the rows. Members that do not answer are
    missing from the result.

    Raises:
        GauntletError: no member answered, or the output is not JSON.
    """
    if _context.node_access_kind(configuration) == "lab":
        from gauntlet.lab.faults import LabFaults

        proc = LabFaults().etcdctl(*args, "-w", "json", endpoints=endpoints)
        out, err = proc.stdout, proc.stderr
    else:
        try:
            out, err = _in_static_pod(args, secrets, endpoints)
        except NoEtcdPod:
            out, err = _on_control_plane_host(
                args, configuration, secrets, endpoints
            )
    try:
        rows = json.loads(out or "[]")
    except ValueError as exc:
        raise GauntletError(
            f"etcdctl {' '.join(args)}: not JSON: {_last_line(err)}"
        ) from exc
    if not rows:
        raise GauntletError(
            f"etcdctl {' '.join(args)}: no member answered: {_last_line(err)}"
        )
    return list(rows)


def members(
    configuration: _context.Configuration = None,
    secrets: _context.Secrets = None,
    endpoints: list[str] | None = None,
) -> list[EtcdMember]:
    """Status of every member (or of ``endpoints``) that answers."""
    found = []
    rows = etcdctl_json(
        ["endpoint", "status"], configuration, secrets, endpoints
    )
    for row in rows:
        status = row["Status"]
        header = status["header"]
        found.append(
            EtcdMember(
                endpoint=str(row["Endpoint"]),
                member_id=f"{int(header['member_id']):x}",
                leader_id=f"{int(status.get('leader', 0)):x}",
                revision=int(header["revision"]),
                raft_term=int(header["raft_term"]),
            )
        )
    return found


def hashes(
    revision: int | None = None,
    configuration: _context.Configuration = None,
    secrets: _context.Secrets = None,
) -> list[EtcdHash]:
    """Every answering member's KV hash, at ``revision`` if given."""
    args = ["endpoint", "hashkv"]
    if revision is not None:
        args.append(f"--rev={revision}")
    found = []
    for row in etcdctl_json(args, configuration, secrets):
        data = row["HashKV"]
        found.append(
            EtcdHash(
                endpoint=str(row["Endpoint"]),
                revision=int(data["header"]["revision"]),
                hash_revision=int(data.get("hash_revision", 0)),
                hash=int(data["hash"]),
                compact_revision=int(data.get("compact_revision", -1)),
            )
        )
    return found


def _in_static_pod(
    args: list[str], secrets: _context.Secrets, only: list[str] | None
) -> tuple[str, str]:
    cluster = _context.cluster(secrets)
    core = cluster.core()
    try:
        pods = core.list_namespaced_pod(
            "kube-system", label_selector="component=etcd"
        ).items
    except ApiException as exc:
        raise ClusterOperationFailed(
            "list", "etcd pods", "kube-system", f"{exc.status} {exc.reason}"
        ) from exc
    running = [p for p in pods if _k8s.phase(p) == "Running"]
    if not running:
        raise NoEtcdPod(
            "no running etcd static pod in kube-system (component=etcd): "
            "etcd is hidden or not kubeadm-style"
        )
    ips = sorted({_address(p) for p in running})
    argv = _kubeadm_etcdctl(args, only, ips)
    result = exec_in_pod(
        core, "kube-system", _k8s.name(running[0]), argv, timeout_s=30
    )
    return result.stdout, result.stderr


class NoEtcdPod(GauntletError):
    """etcd runs as a host service (or is hidden), not as a static pod."""


# Host-service control planes (the lab, hand-built clusters): run the
# etcdctl that sits next to the running etcd binary, with kubeadm's
# certificate layout, through node access on a control-plane node.
_HOST_ETCDCTL = (
    'pid=$(pgrep -x etcd | head -n1); [ -n "$pid" ] || exit 3; '
    'exe=$(readlink /proc/$pid/exe); dir=$(dirname "$exe"); '
    'ctl="$dir/etcdctl"; [ -x "$ctl" ] || ctl=etcdctl; exec "$ctl" "$@"'
)


def _on_control_plane_host(
    args: list[str],
    configuration: _context.Configuration,
    secrets: _context.Secrets,
    only: list[str] | None,
) -> tuple[str, str]:
    cluster = _context.cluster(secrets)
    every: list[Any] = cluster.core().list_node().items
    nodes = [
        n
        for n in every
        if "node-role.kubernetes.io/control-plane" in (n.metadata.labels or {})
    ]
    ips = sorted(
        a.address
        for n in nodes
        for a in (n.status.addresses or [])
        if a.type == "InternalIP"
    )
    if not nodes:
        raise GauntletError("etcd is hidden: no control-plane node visible")
    # sh -c takes the etcdctl argv's first word as $0, the rest as "$@".
    argv = ["sh", "-c", _HOST_ETCDCTL, *_kubeadm_etcdctl(args, only, ips)]
    access = _context.node_access(configuration, secrets)
    last = ""
    for node in nodes:
        proc = access.run(str(node.metadata.name), argv, timeout_s=30)
        if proc.stdout.strip():
            return proc.stdout, proc.stderr
        last = proc.stderr
    return "", last


def _kubeadm_etcdctl(
    args: list[str], only: list[str] | None, ips: list[str]
) -> list[str]:
    """``etcdctl ARGS -w json`` with kubeadm's health-check client cert,
    against ``only`` or every member at ``ips``: one argv for both paths.
    """
    endpoints = ",".join(
        only or [f"https://{ip}:{ETCD_CLIENT_PORT}" for ip in ips]
    )
    return [
        "etcdctl",
        f"--endpoints={endpoints}",
        f"--cacert={KUBEADM_PKI}/ca.crt",
        f"--cert={KUBEADM_PKI}/healthcheck-client.crt",
        f"--key={KUBEADM_PKI}/healthcheck-client.key",
        "--dial-timeout=2s",
        "--command-timeout=5s",
        *args,
        "-w",
        "json",
    ]


def _address(pod: client.V1Pod) -> str:
    status = pod.status
    return str((status.pod_ip or status.host_ip) if status else "")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
