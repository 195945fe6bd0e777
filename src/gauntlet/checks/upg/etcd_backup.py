"""UPG-03: the etcd backup is real.

An upgrade's way back is the etcd snapshot taken before it; a snapshot
that was never restored is a hope. Three parts:

snapshot
    ``etcdctl snapshot save`` on a control-plane node against that
    node's own member, fetched to the runner (``observe.etcd.snapshot``);
    the backup's time (save and fetch) and the snapshot's size are
    measured. etcd refusing the save is a finding.
integrity
    the sha256 etcd appends to the file must match the database, and
    ``etcdutl snapshot status`` must read its hash, revision and keys;
    the snapshot's revision must lie within the member's revisions
    during the save.
restore drill
    the snapshot restored into a scratch member on the runner (loopback
    only, the member's own etcd release built from its published
    modules) that must start, serve the snapshot's revision R, and hold
    the live cluster's keyspace at R under ``/registry``: the same keys
    with the same revisions (counts per resource prefix reported), the
    same bytes for a sample of values spread over the prefixes, and the
    same KV hash at R while both sides share a compaction. When R was
    compacted on the live cluster meanwhile, the comparison falls back
    to the current revision with a tolerance for deletions, and the
    part "restore drill at the snapshot's revision" says it was not
    observed. The restore time (restore, then start until healthy) is
    measured.

The snapshot holds every Secret of the cluster: it lives in a private
temporary directory and is removed afterwards unless ``keep`` names a
directory to copy it into (with a JSON record beside it). A managed
cluster shows no etcd: the check does not apply there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from gauntlet import progress
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.checks.upg._backup_drill import drill
from gauntlet.errors import Unobservable, UsageError
from gauntlet.observe.etcd.scratch import (
    SnapshotStatus,
    SnapshotUnusable,
    etcd_tools,
    snapshot_status,
)
from gauntlet.observe.etcd.snapshot import (
    Snapshot,
    SnapshotFailed,
    checksum_problem,
    take_snapshot,
)
from gauntlet.runid import current_run_id, new_run_id

STEP = "the etcd backup is real"
SNAPSHOT = "snapshot"
INTEGRITY = "integrity"
DRILL = "restore drill"
MANAGED = (
    "no etcd is visible (a managed control plane): its provider keeps "
    "and restores etcd's backups"
)
MIB = 1024 * 1024

Say = Callable[[str], object]


def check_etcd_backup_is_real(
    ctx: CheckContext,
    keep: Path | None,
    tamper: Callable[[Path], None] | None = None,
    say: Say = progress.say,
) -> None:
    """Take a snapshot, check its integrity and restore it into a
    scratch member that must hold what the live cluster held.

    ``tamper`` is applied to the fetched file before its integrity is
    checked (a sabotage); ``keep`` is a directory to copy the snapshot,
    as judged, into once every part has run (not when an error stopped
    the check).

    Raises:
        GuaranteeViolated: naming the member and node and what is wrong
            (save refused, integrity, restore, revision, keys, values).
        CheckSkipped: not applicable (managed) or nothing observed.
        UsageError: ``keep`` cannot be made.
    """
    if ctx.topology.control_plane_mode == "hidden":
        for name in (SNAPSHOT, INTEGRITY, DRILL):
            ctx.not_applicable(name, MANAGED)
        raise CheckSkipped(f"{STEP}: not applicable: {MANAGED}")
    if keep is not None:
        _ensure_dir(keep)
    work = Path(tempfile.mkdtemp(prefix="kg-etcd-backup-"))
    try:
        snap = _snapshot_part(ctx, work, say)
        if snap is not None:
            _judge(ctx, snap, tamper, say)
            if keep is not None:
                _keep(ctx, snap, keep, say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ctx.conclude(STEP)


def _snapshot_part(ctx: CheckContext, work: Path, say: Say) -> Snapshot | None:
    snap: Snapshot | None = None
    with ctx.part(SNAPSHOT) as part:
        etcd = ctx.etcd("saving a snapshot")
        run = current_run_id() or ctx.probe_namespace or new_run_id()
        say("etcd backup: saving a snapshot on a control-plane node")
        try:
            snap = take_snapshot(etcd, run, work)
        except SnapshotFailed as exc:
            part.finding(f"no snapshot: {exc}")
        except Unobservable as exc:
            if ctx.nodes is None:  # say why there is no node access
                raise Unobservable(f"{exc} ({ctx.nodes_unavailable})") from exc
            raise
        else:
            ctx.measure("etcd backup time", snap.took_s, "s")
            ctx.measure("etcd snapshot size", snap.size / MIB, "MiB")
            say(
                f"etcd backup: {snap.size / MIB:.1f} MiB from member "
                f"{snap.member.member_id} on node {snap.node} in "
                f"{snap.took_s:.1f}s (save {snap.save_s:.1f}s, fetch "
                f"{snap.fetch_s:.1f}s)"
            )
    if snap is None:
        for name in (INTEGRITY, DRILL):
            ctx.unobserved(name, "no snapshot was taken")
    return snap


def _label(snap: Snapshot) -> str:
    return (
        f"snapshot of etcd member {snap.member.member_id} on node {snap.node}"
    )


def _judge(
    ctx: CheckContext,
    snap: Snapshot,
    tamper: Callable[[Path], None] | None,
    say: Say,
) -> None:
    if tamper is not None:
        tamper(snap.path)
    tools: Path | None = None
    status: SnapshotStatus | None = None
    why = "its integrity could not be checked"
    with ctx.part(INTEGRITY) as part:
        tools, status = _integrity(ctx, part, snap)
        why = "the snapshot failed its integrity check"
    if status is None or tools is None:
        ctx.unobserved(DRILL, f"not attempted: {why}")
        return
    say(
        f"etcd backup: restoring revision {status.revision} into a scratch "
        "etcd on the runner"
    )
    with ctx.part(DRILL) as part:
        drill(ctx, part, snap, status, tools, say)


def _integrity(
    ctx: CheckContext, part: Part, snap: Snapshot
) -> tuple[Path | None, SnapshotStatus | None]:
    """The tools and the status, or None for the status when the
    snapshot failed (the findings say why)."""
    label = _label(snap)
    problem = checksum_problem(snap.path)
    if problem:
        part.finding(f"{label} fails its integrity check: {problem}")
    tools = etcd_tools(snap.member.version)
    try:
        status = snapshot_status(tools, snap.path)
    except SnapshotUnusable as exc:
        part.finding(f"{label} fails its integrity check: {exc}")
        return tools, None
    ctx.evidence("etcd snapshot status", asdict(status))
    before, after = snap.member.revision, snap.revision_after
    if not before <= status.revision <= after:
        part.finding(
            f"{label}: its revision {status.revision} lies outside the "
            f"member's revisions during the save ({before}..{after})"
        )
    return tools, None if part.findings else status


def _ensure_dir(keep: Path) -> None:
    try:
        keep.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot keep the etcd snapshot in {keep}: {exc.strerror}"
        ) from exc


def _keep(ctx: CheckContext, snap: Snapshot, keep: Path, say: Say) -> None:
    """Copy the snapshot (private: it holds every Secret) and its record
    into ``keep``."""
    target = keep / snap.path.name
    try:
        target.unlink(missing_ok=True)
        target.touch(mode=0o600)
        shutil.copyfile(snap.path, target)
        record = {
            "node": snap.node,
            "endpoint": snap.endpoint,
            "member_id": snap.member.member_id,
            "etcd_version": snap.member.version,
            "revision_before": snap.member.revision,
            "revision_after": snap.revision_after,
            "size": snap.size,
            "sha256": snap.sha256,
            "save_s": round(snap.save_s, 3),
            "fetch_s": round(snap.fetch_s, 3),
            "parts": [p.to_dict() for p in ctx.parts],
        }
        target.with_suffix(".json").write_text(
            json.dumps(record, indent=1) + "\n"
        )
    except OSError as exc:
        raise UsageError(
            f"cannot keep the etcd snapshot in {keep}: {exc}"
        ) from exc
    say(f"etcd backup: snapshot kept at {target}")
    ctx.evidence("etcd snapshot kept", str(target))
