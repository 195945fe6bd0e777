"""UPG-03's restore drill: a scratch member against the live cluster.

The snapshot is restored into a ``ScratchEtcd`` on the runner; its
keyspace under ``/registry`` is compared with the live member's at the
snapshot's revision R (keys and revisions, a sample of values byte for
byte, the KV hash), or, when R was compacted on the live cluster in the
meantime, at the live cluster's current revision with the tolerance of
``_backup_keyspace.judge_after_compaction``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.checks.upg._backup_keyspace import (
    KeyspaceJudgement,
    ValueSample,
    judge_after_compaction,
    judge_at_revision,
    judge_values,
    sample_keys,
)
from gauntlet.errors import ClusterOperationFailed
from gauntlet.observe.etcd import EtcdClient
from gauntlet.observe.etcd.keyspace import (
    KeyMeta,
    RevisionCompacted,
    list_keys,
    read_value,
)
from gauntlet.observe.etcd.scratch import (
    ScratchEtcd,
    SnapshotStatus,
    SnapshotUnusable,
)
from gauntlet.observe.etcd.snapshot import Snapshot

__all__ = ["AT_REVISION", "PREFIX", "drill"]

PREFIX = "/registry"
"""The API server's default ``--etcd-prefix``."""
AT_REVISION = "restore drill at the snapshot's revision"


class _Live:
    """The snapshot's own member, through the cluster's etcd client."""

    def __init__(self, etcd: EtcdClient, snap: Snapshot) -> None:
        self.etcd = etcd
        self.endpoint = snap.endpoint
        self.where = f"etcd member {snap.member.member_id} on node {snap.node}"

    def run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return self.etcd.run(*args, endpoints=[self.endpoint])


def drill(
    ctx: CheckContext,
    part: Part,
    snap: Snapshot,
    status: SnapshotStatus,
    tools: Path,
    say: Callable[[str], object],
) -> None:
    """Restore, start and compare; findings go to ``part``."""
    live = _Live(ctx.etcd("reading the live keyspace"), snap)
    try:
        with ScratchEtcd(tools, snap.path) as scratch:
            took = ctx.measure(
                "etcd restore time", scratch.restore_s + scratch.start_s, "s"
            )
            say(
                f"etcd backup: restored and started in {took:.1f}s "
                f"(restore {scratch.restore_s:.1f}s, start "
                f"{scratch.start_s:.1f}s); comparing with the live cluster"
            )
            _compare(ctx, part, scratch, live, status.revision)
    except SnapshotUnusable as exc:
        part.finding(
            f"snapshot of etcd member {snap.member.member_id} on node "
            f"{snap.node} does not restore: {exc}"
        )


def _compare(
    ctx: CheckContext,
    part: Part,
    scratch: ScratchEtcd,
    live: _Live,
    revision: int,
) -> None:
    served, restored = list_keys(scratch.run, scratch.where, PREFIX)
    if served != revision:
        part.finding(
            f"the restored member serves revision {served}, the snapshot "
            f"holds revision {revision}"
        )
    try:
        judgement, samples, read_at = _at_revision(
            scratch, live, restored, revision
        )
        notes = list(judgement.notes) + _hash_notes(
            part, scratch, live, revision
        )
    except RevisionCompacted:
        judgement, samples, read_at = _after_compaction(
            scratch, live, restored, revision
        )
        notes = list(judgement.notes)
        ctx.unobserved(AT_REVISION, notes[0])
    for finding in judgement.findings:
        part.finding(finding)
    for finding in judge_values(samples, read_at):
        part.finding(finding)
    ctx.measure("etcd keys compared", len(restored), "keys")
    ctx.evidence(
        "etcd keys per prefix (restored, live)",
        {p: list(c) for p, c in judgement.counts.items()},
    )
    ctx.evidence(
        "etcd restore drill",
        {
            "revision": revision,
            "live read at": read_at,
            "values compared": [s.key for s in samples],
            "notes": notes,
        },
    )


def _live_keys(live: _Live, revision: int | None) -> tuple[int, list[KeyMeta]]:
    read_at, keys = list_keys(live.run, live.where, PREFIX, revision)
    if not keys:
        raise CheckSkipped(
            f"no keys under {PREFIX} on {live.where} at revision "
            f"{read_at} (an API server with another --etcd-prefix?)"
        )
    return read_at, keys


def _samples(
    scratch: ScratchEtcd, live: _Live, keys: Sequence[str], read_at: int
) -> list[ValueSample]:
    return [
        ValueSample(
            key,
            read_value(scratch.run, scratch.where, key),
            read_value(live.run, live.where, key, read_at),
        )
        for key in sample_keys(keys)
    ]


def _at_revision(
    scratch: ScratchEtcd,
    live: _Live,
    restored: list[KeyMeta],
    revision: int,
) -> tuple[KeyspaceJudgement, list[ValueSample], int]:
    """Raises:
    RevisionCompacted: ``revision`` is gone on the live cluster."""
    _, keys = _live_keys(live, revision)
    judgement = judge_at_revision(restored, keys, revision)
    samples = _samples(scratch, live, [k.key for k in keys], revision)
    return judgement, samples, revision


def _after_compaction(
    scratch: ScratchEtcd,
    live: _Live,
    restored: list[KeyMeta],
    revision: int,
) -> tuple[KeyspaceJudgement, list[ValueSample], int]:
    read_at, keys = _live_keys(live, None)
    judgement = judge_after_compaction(restored, keys, revision, read_at)
    held = {k.key for k in restored}
    unchanged = [
        k.key for k in keys if k.key in held and k.mod_revision <= revision
    ]
    return judgement, _samples(scratch, live, unchanged, read_at), read_at


def _hash(rows: Any) -> tuple[int, int]:
    """(hash, compact revision) of the first ``endpoint hashkv`` row."""
    data = rows[0]["HashKV"]
    return int(data["hash"]), int(data.get("compact_revision", -1))


def _hash_notes(
    part: Part, scratch: ScratchEtcd, live: _Live, revision: int
) -> list[str]:
    """The KV hash at ``revision``, restored against live: compared only
    while both sides share a compaction (a later one changes what the
    live member hashes); a hash not compared is said in a note."""
    args = ("endpoint", "hashkv", f"--rev={revision}")
    try:
        restored = _hash(scratch.json(*args))
        ours = _hash(live.etcd.rows(*args, endpoints=[live.endpoint]))
    except (ClusterOperationFailed, LookupError, TypeError, ValueError) as e:
        return [f"KV hash at revision {revision} not compared: {e}"]
    if restored[1] != ours[1]:
        return [
            f"KV hash at revision {revision} not compared: the live member "
            f"compacted at {ours[1]} since (the snapshot at {restored[1]})"
        ]
    if restored[0] != ours[0]:
        part.finding(
            f"KV hash at revision {revision}: {restored[0]} restored, "
            f"{ours[0]} on {live.where} (both compacted at {ours[1]})"
        )
        return []
    return [f"KV hash at revision {revision} equal ({ours[0]})"]
