"""How a restored snapshot's keyspace compares with the live cluster's.

Pure judgements over keys and their metadata (``KeyMeta``), for UPG-03.

At the snapshot's revision R the live cluster still knows, byte for
byte, what the snapshot must hold: the same keys, each with the same
create and mod revision and version. Once R is compacted away the live
cluster is compared at its current revision instead, and only what that
still proves is judged exactly: a key created at or before R that is
still there must be in the snapshot, with the same create revision, and
with the same mod revision and value when it was not written since. Keys
the snapshot holds and the live cluster no longer does were deleted
after R as far as anyone can tell: they are counted per prefix and
tolerated up to ``gone_tolerance``, always with a note.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gauntlet.observe.etcd.keyspace import KeyMeta

__all__ = [
    "GONE_TOLERANCE_FRACTION",
    "GONE_TOLERANCE_MIN",
    "SAMPLE_SIZE",
    "KeyspaceJudgement",
    "ValueSample",
    "count_by_prefix",
    "gone_tolerance",
    "judge_after_compaction",
    "judge_at_revision",
    "judge_values",
    "resource_prefix",
    "sample_keys",
]

SAMPLE_SIZE = 20
"""Values compared byte for byte, spread over the resource prefixes."""
SHOWN = 5
"""Keys named per finding; the rest are counted."""
GONE_TOLERANCE_MIN = 20
GONE_TOLERANCE_FRACTION = 0.10
"""After a compaction: keys of one prefix the snapshot holds and the live
cluster lost since, tolerated up to this share (at least the minimum)."""


def resource_prefix(key: str) -> str:
    """The resource a Kubernetes key belongs to: ``/registry/pods/ns/x``
    -> ``/registry/pods``; a group with a dot keeps its resource too:
    ``/registry/apiregistration.k8s.io/apiservices/v1.apps`` ->
    ``/registry/apiregistration.k8s.io/apiservices``."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0]:
        return key
    head = parts[:3]
    if "." in parts[2] and len(parts) > 4:
        head = parts[:4]
    return "/".join(head)


def count_by_prefix(keys: Iterable[str]) -> dict[str, int]:
    """Keys per resource prefix."""
    counts: dict[str, int] = {}
    for key in keys:
        prefix = resource_prefix(key)
        counts[prefix] = counts.get(prefix, 0) + 1
    return dict(sorted(counts.items()))


def _spread(items: Sequence[str], count: int) -> list[str]:
    """``count`` of ``items`` at evenly spaced positions (middles)."""
    size = len(items)
    return [items[(2 * i + 1) * size // (2 * count)] for i in range(count)]


def sample_keys(keys: Iterable[str], size: int = SAMPLE_SIZE) -> list[str]:
    """Up to ``size`` keys spread over the resource prefixes: one per
    prefix per round (prefixes evenly spaced when there are more than
    keys left to pick), each prefix's picks evenly spaced within it."""
    groups: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        groups.setdefault(resource_prefix(key), []).append(key)
    quota = dict.fromkeys(groups, 0)
    left = min(size, sum(len(g) for g in groups.values()))
    while left:
        open_ = [p for p in sorted(groups) if quota[p] < len(groups[p])]
        chosen = _spread(open_, left) if len(open_) > left else open_
        for prefix in chosen:
            quota[prefix] += 1
        left -= len(chosen)
    picked: list[str] = []
    for prefix in sorted(groups):
        if quota[prefix]:
            picked += _spread(groups[prefix], quota[prefix])
    return picked


def gone_tolerance(count: int) -> int:
    """Keys of a prefix that may have gone since a compacted revision."""
    return max(GONE_TOLERANCE_MIN, math.ceil(count * GONE_TOLERANCE_FRACTION))


@dataclass(frozen=True)
class KeyspaceJudgement:
    """Findings, notes and the per-prefix counts behind them."""

    findings: tuple[str, ...]
    notes: tuple[str, ...]
    counts: dict[str, tuple[int, int]]
    """Prefix -> (keys restored from the snapshot, keys live)."""


def _names(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    more = len(keys) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _by_prefix(keys: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        groups.setdefault(resource_prefix(key), []).append(key)
    return groups


def _counts(
    snapshot: Mapping[str, KeyMeta], live: Mapping[str, KeyMeta]
) -> dict[str, tuple[int, int]]:
    restored = count_by_prefix(snapshot)
    seen = count_by_prefix(live)
    return {
        p: (restored.get(p, 0), seen.get(p, 0))
        for p in sorted(set(restored) | set(seen))
    }


def _meta_differences(
    keys: Iterable[str],
    snapshot: Mapping[str, KeyMeta],
    live: Mapping[str, KeyMeta],
    fields: tuple[str, ...] = ("create_revision", "mod_revision", "version"),
) -> list[str]:
    found = []
    for key in sorted(keys):
        a, b = snapshot[key], live[key]
        for name in fields:
            if getattr(a, name) != getattr(b, name):
                found.append(
                    f"{key} ({name} {getattr(a, name)} restored, "
                    f"{getattr(b, name)} live)"
                )
                break
    return found


def judge_at_revision(
    snapshot: Sequence[KeyMeta], live: Sequence[KeyMeta], revision: int
) -> KeyspaceJudgement:
    """The restored keyspace against the live one read at the snapshot's
    own revision: they must be the same, key for key."""
    snap = {k.key: k for k in snapshot}
    cur = {k.key: k for k in live}
    counts = _counts(snap, cur)
    findings = []
    snap_groups, cur_groups = _by_prefix(snap), _by_prefix(cur)
    for prefix, (restored, seen) in counts.items():
        missing = [k for k in cur_groups.get(prefix, []) if k not in snap]
        extra = [k for k in snap_groups.get(prefix, []) if k not in cur]
        if not missing and not extra:
            continue
        text = (
            f"{prefix}: {restored} keys restored from the snapshot, {seen} "
            f"on the live cluster at revision {revision}"
        )
        if missing:
            text += f"; missing from the snapshot: {_names(missing)}"
        if extra:
            text += f"; not on the live cluster: {_names(extra)}"
        findings.append(text)
    changed = _meta_differences(set(snap) & set(cur), snap, cur)
    if changed:
        findings.append(
            f"{len(changed)} key(s) restored differently from the live "
            f"cluster at revision {revision}: {_names(changed)}"
        )
    return KeyspaceJudgement(tuple(findings), (), counts)


def judge_after_compaction(
    snapshot: Sequence[KeyMeta],
    live: Sequence[KeyMeta],
    revision: int,
    live_revision: int,
) -> KeyspaceJudgement:
    """The restored keyspace (at ``revision``, compacted away on the live
    cluster) against the live one at ``live_revision``: exact for what
    existed at ``revision`` and is still there, tolerant of deletions."""
    snap = {k.key: k for k in snapshot}
    cur = {k.key: k for k in live}
    counts = _counts(snap, cur)
    findings: list[str] = []
    notes = [
        f"revision {revision} was compacted on the live cluster: compared "
        f"with its revision {live_revision}; keys deleted since are "
        f"tolerated up to max({GONE_TOLERANCE_MIN}, "
        f"{GONE_TOLERANCE_FRACTION:.0%}) per prefix"
    ]
    existed = {k for k, m in cur.items() if m.create_revision <= revision}
    missing = _by_prefix(existed - set(snap))
    for prefix, keys in missing.items():
        findings.append(
            f"{prefix}: {len(keys)} key(s) created at or before revision "
            f"{revision} and still on the live cluster are missing from "
            f"the snapshot: {_names(keys)}"
        )
    both = existed & set(snap)
    unchanged = {k for k in both if cur[k].mod_revision <= revision}
    changed = _meta_differences(unchanged, snap, cur)
    changed += _meta_differences(
        both - unchanged, snap, cur, ("create_revision",)
    )
    if changed:
        findings.append(
            f"{len(changed)} key(s) restored differently from the live "
            f"cluster (unchanged since revision {revision}): "
            f"{_names(sorted(changed))}"
        )
    gone = _by_prefix(k for k in snap if k not in existed)
    for prefix, keys in gone.items():
        allowed = gone_tolerance(counts[prefix][0])
        text = (
            f"{prefix}: {len(keys)} of {counts[prefix][0]} restored key(s) "
            f"gone from the live cluster since revision {revision}"
        )
        if len(keys) > allowed:
            findings.append(
                f"{text}, more than the {allowed} tolerated: {_names(keys)}"
            )
        else:
            notes.append(text)
    new = sum(1 for m in cur.values() if m.create_revision > revision)
    if new:
        notes.append(f"{new} live key(s) created after revision {revision}")
    return KeyspaceJudgement(tuple(findings), tuple(notes), counts)


@dataclass(frozen=True)
class ValueSample:
    """One key read from both sides (None: absent there)."""

    key: str
    restored: tuple[KeyMeta, bytes] | None
    live: tuple[KeyMeta, bytes] | None


def judge_values(samples: Sequence[ValueSample], revision: int) -> list[str]:
    """Each sampled key must hold the same bytes (and metadata) in the
    restored member as on the live cluster read at ``revision``."""
    findings = []
    at = f"the live cluster at revision {revision}"
    for s in samples:
        if s.restored is None and s.live is None:
            continue
        if s.restored is None:
            findings.append(f"{s.key}: on {at}, absent from the snapshot")
        elif s.live is None:
            findings.append(f"{s.key}: in the snapshot, absent from {at}")
        elif s.restored[1] != s.live[1]:
            findings.append(
                f"{s.key}: value differs ({len(s.restored[1])} bytes "
                f"restored, {len(s.live[1])} bytes on {at})"
            )
        elif s.restored[0] != s.live[0]:
            findings.append(
                f"{s.key}: same value, but mod_revision "
                f"{s.restored[0].mod_revision} restored, "
                f"{s.live[0].mod_revision} on {at}"
            )
    return findings
