"""An etcd snapshot taken on a control-plane node and fetched to the runner.

``etcdctl snapshot save`` runs on the node (through node access, with the
member's own client pair) against that node's member only, into
``/var/tmp``; the file comes back base64-encoded through
``NodeAccess.run`` in chunks, each checked for its length, the whole for
its size and (when the node has ``sha256sum``) its digest; the node's
copy is removed afterwards, also when anything failed. No client
credential leaves the node.

Without node access there is no snapshot: a kubeadm etcd static pod's
image has no shell to copy the file out of.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.errors import (
    ClusterOperationFailed,
    NodeAccessError,
    Unobservable,
)
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient, HostEtcdCtl
from gauntlet.observe.etcd.models import MemberStatus, member_status

__all__ = [
    "CHUNK_BYTES",
    "SAVE_TIMEOUT_S",
    "Snapshot",
    "SnapshotFailed",
    "checksum_problem",
    "member_state",
    "remote_path",
    "take_snapshot",
]

SAVE_TIMEOUT_S = 300.0
"""etcdctl's --command-timeout for the save (a large database streams
for a while); the node access call gets a margin on top."""
FETCH_TIMEOUT_S = 120.0
CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes per fetch call (about 5.6 MB of base64 on the wire)."""
REMOTE_DIR = "/var/tmp"
_SECTOR = 512
_DIGEST_BYTES = 32
_NO_TOOLS = 3
_SIZE_AND_DIGEST = (
    "command -v dd >/dev/null && command -v base64 >/dev/null || exit 3; "
    'stat -c %s "$1" && { sha256sum "$1" 2>/dev/null || :; }'
)
_CHUNK = 'dd if="$1" bs="$2" skip="$3" count=1 2>/dev/null | base64'
_NO_SHELL = (
    "an etcd snapshot needs node access: etcdctl inside a kubeadm etcd "
    "static pod could save one, but the pod's image has no shell to copy "
    "it out of"
)


class SnapshotFailed(ClusterOperationFailed):
    """etcd did not produce a snapshot (its own refusal: no space, a
    timeout, a member that cannot serve one)."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot fetched to the runner."""

    path: Path
    node: str
    endpoint: str
    member: MemberStatus
    """The member it was taken from, as it stood just before."""
    revision_after: int
    """The member's revision right after the save: the snapshot's own
    revision lies between ``member.revision`` and this."""
    size: int
    sha256: str
    """Of the fetched file; compared with the node's when it had
    ``sha256sum`` (``digest_checked``)."""
    digest_checked: bool
    save_s: float
    fetch_s: float

    @property
    def took_s(self) -> float:
        """The whole backup: save on the node plus fetch to the runner."""
        return self.save_s + self.fetch_s


def remote_path(run_name: str) -> str:
    """``/var/tmp/kube-gauntlet-<run name>.etcd-snapshot.db``, the run's
    name made safe for a file name."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "-", run_name).strip(".-") or "run"
    return f"{REMOTE_DIR}/kube-gauntlet-{slug[:100]}.etcd-snapshot.db"


def member_state(text: str) -> MemberStatus:
    """The first row of ``endpoint status -w json``.

    Raises:
        ValueError: no such row.
    """
    rows: Any = json.loads(text)
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"no endpoint status: {text.strip()[:200]!r}")
    return member_status(rows[0])


def checksum_problem(path: Path) -> str:
    """What is wrong with the sha256 etcd appends to a snapshot it
    streams ('' when it matches the database before it).

    etcd sends the bolt database (whole pages, a multiple of 512 bytes)
    and then its sha256; ``etcdutl snapshot restore`` refuses a file
    whose digest does not match, so this is what a restore would say.
    """
    size = path.stat().st_size
    if size % _SECTOR != _DIGEST_BYTES:
        return (
            f"{size} bytes is not whole database pages plus etcd's sha256 "
            "(truncated or not a snapshot from etcdctl snapshot save)"
        )
    digest = hashlib.sha256()
    with path.open("rb") as f:
        left = size - _DIGEST_BYTES
        while left:
            block = f.read(min(left, 1024 * 1024))
            if not block:
                return f"{path.name} shrank while it was read"
            digest.update(block)
            left -= len(block)
        appended = f.read(_DIGEST_BYTES)
    if digest.digest() != appended:
        return (
            "the database does not match the sha256 etcd appended "
            f"({digest.hexdigest()[:16]}... against {appended.hex()[:16]}...):"
            " corrupted"
        )
    return ""


def take_snapshot(etcd: EtcdClient, run_name: str, into: Path) -> Snapshot:
    """Save a snapshot of one control-plane node's own member and fetch
    it into the directory ``into``.

    Raises:
        Unobservable: no node access, etcdctl runs on no node, or the
            node has no dd or base64 to copy the file out with.
        SnapshotFailed: etcd refused or failed the save.
        ClusterOperationFailed: the file could not be fetched whole, or
            could not be removed from the node (named).
        NodeAccessError: the node could not be reached.
    """
    if etcd.nodes is None:
        raise Unobservable(_NO_SHELL)
    ctl = etcd.host_ctl()
    remote = remote_path(run_name)
    local = into / Path(remote).name
    try:
        snap = _save_and_fetch(ctl, remote, local)
    except BaseException as exc:
        local.unlink(missing_ok=True)
        problem = _remove(ctl.nodes, ctl.node, remote)
        if problem:
            exc.add_note(problem)
        raise
    problem = _remove(ctl.nodes, ctl.node, remote)
    if problem:
        local.unlink(missing_ok=True)
        raise ClusterOperationFailed(
            "remove", f"the snapshot {remote}", None, problem
        )
    return snap


def _status(ctl: HostEtcdCtl) -> MemberStatus:
    where = f"etcd member {ctl.local_endpoint} on node {ctl.node}"
    proc = ctl.run(["endpoint", "status"], [ctl.local_endpoint])
    try:
        return member_state(proc.stdout)
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterOperationFailed(
            "etcdctl endpoint status", where, None, _last_line(proc)
        ) from exc


def _save_and_fetch(ctl: HostEtcdCtl, remote: str, local: Path) -> Snapshot:
    member = _status(ctl)
    began = time.monotonic()
    proc = ctl.run(
        [
            "snapshot",
            "save",
            remote,
            f"--command-timeout={SAVE_TIMEOUT_S:.0f}s",
        ],
        [ctl.local_endpoint],
        timeout_s=SAVE_TIMEOUT_S + 30,
    )
    save_s = time.monotonic() - began
    if proc.returncode != 0:
        raise SnapshotFailed(
            "etcdctl snapshot save",
            f"etcd member {member.member_id} on node {ctl.node}",
            None,
            _last_line(proc),
        )
    after = _status(ctl).revision
    began = time.monotonic()
    size, digest, checked = _fetch(ctl.nodes, ctl.node, remote, local)
    return Snapshot(
        path=local,
        node=ctl.node,
        endpoint=ctl.local_endpoint,
        member=member,
        revision_after=after,
        size=size,
        sha256=digest,
        digest_checked=checked,
        save_s=save_s,
        fetch_s=time.monotonic() - began,
    )


def _fetch(
    nodes: NodeAccess, node: str, remote: str, local: Path
) -> tuple[int, str, bool]:
    """Copy ``remote`` to ``local`` chunk by chunk; return size, sha256
    and whether the node's own digest agreed."""
    what = f"the snapshot {remote} on node {node}"
    proc = nodes.run(node, ["sh", "-c", _SIZE_AND_DIGEST, "sh", remote])
    if proc.returncode == _NO_TOOLS:
        raise Unobservable(
            f"node {node} has no dd or base64 to copy the snapshot out with"
        )
    lines = proc.stdout.split()
    if proc.returncode != 0 or not lines or not lines[0].isdigit():
        raise ClusterOperationFailed("stat", what, None, _last_line(proc))
    size = int(lines[0])
    remote_digest = lines[1] if len(lines) > 1 else ""
    digest = hashlib.sha256()
    local.touch(mode=0o600)
    with local.open("wb") as out:
        for index in range((size + CHUNK_BYTES - 1) // CHUNK_BYTES):
            chunk = _chunk(nodes, node, remote, index)
            wanted = min(CHUNK_BYTES, size - index * CHUNK_BYTES)
            if len(chunk) != wanted:
                raise ClusterOperationFailed(
                    "fetch",
                    what,
                    None,
                    f"chunk {index} has {len(chunk)} bytes, not {wanted}",
                )
            digest.update(chunk)
            out.write(chunk)
    found = digest.hexdigest()
    if remote_digest and remote_digest != found:
        raise ClusterOperationFailed(
            "fetch",
            what,
            None,
            f"sha256 {found} on the runner, {remote_digest} on the node",
        )
    return size, found, bool(remote_digest)


def _chunk(nodes: NodeAccess, node: str, remote: str, index: int) -> bytes:
    proc = nodes.run(
        node,
        ["sh", "-c", _CHUNK, "sh", remote, str(CHUNK_BYTES), str(index)],
        timeout_s=FETCH_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise ClusterOperationFailed(
            "fetch", f"{remote} on node {node}", None, _last_line(proc)
        )
    try:
        return base64.b64decode(proc.stdout)
    except ValueError as exc:
        raise ClusterOperationFailed(
            "fetch", f"{remote} on node {node}", None, f"bad base64: {exc}"
        ) from exc


def _remove(nodes: NodeAccess, node: str, remote: str) -> str:
    """Remove the node's copy (and etcdctl's partial file); '' when
    done, else why it may still be there."""
    try:
        proc = nodes.run(node, ["rm", "-f", "--", remote, f"{remote}.part"])
    except (NodeAccessError, subprocess.SubprocessError, OSError) as exc:
        return f"{remote} may be left on node {node}: {exc}"
    if proc.returncode != 0:
        return f"{remote} left on node {node}: {_last_line(proc)}"
    return ""


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else f"exit {proc.returncode}"
