"""PART-02: judge a recorded history for split-brain evidence.

Concurrent clients, one per API server endpoint (the servers themselves,
never the load balancer), write unique values to a few ConfigMap keys and
read them back, each request with a short timeout. Every operation is
kept with its interval (monotonic and UTC), its result and the
resourceVersion it saw. ``check_history`` then looks for split-brain
evidence the way Jepsen-style checkers do, for a last-writer-wins
register per key:

* a read returns only values that some write (acknowledged or
  indeterminate) wrote, never one whose write began after the read ended;
* no read, and in particular no final read, returns a value older than
  an acknowledged write that completed before the read began (a lost
  acknowledged write);
* no write through the minority endpoint started and was acknowledged
  inside the partition window;
* each client sees a key's resourceVersion only grow;
* after the heal, every etcd member has the same KV hash at one revision
  (``etcd_agreement``): a member that gave no hash is not in agreement.

A write that timed out (or got a 5xx) is indeterminate: it may or may
not have been applied, and either outcome is accepted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from gauntlet.observe.etcd import Member
from gauntlet.observe.history import (
    FINAL_CLIENT,
    EtcdState,
    Operation,
    PartitionWindow,
)

__all__ = ["check_history", "etcd_agreement"]

MAX_REPORTED = 5


def check_history(
    ops: Sequence[Operation], partition: PartitionWindow | None = None
) -> list[str]:
    """The violations of the history; an empty list means none found.

    Values must be unique per write (the recorder guarantees it). Reads
    by ``FINAL_CLIENT`` are the final state: every key written must have
    one. The etcd members are judged apart (``etcd_agreement``): etcd may
    be hidden while the history is not.
    """
    writers = _writers(ops)
    violations = _check_reads(ops, writers)
    violations += _check_final_reads(ops)
    if partition is not None:
        violations += _check_minority(ops, partition)
    violations += _check_resource_versions(ops)
    return violations


def etcd_agreement(
    states: Sequence[EtcdState], members: Sequence[Member]
) -> list[str]:
    """Whether every voting member of ``members`` (listed before the
    fault) answered after the heal with the same KV hash at one revision.

    A member without a state is a violation naming it: agreement among
    the members that answered says nothing about the one that did not.
    Learners do not vote and are not expected.
    """
    answered = {s.endpoint for s in states}
    missing = [
        f"etcd: member {m.label} gave no hash after the heal"
        for m in members
        if not m.learner and not answered & set(m.client_urls)
    ]
    return missing + _check_etcd(states)


def _writers(ops: Iterable[Operation]) -> dict[tuple[str, str], Operation]:
    return {
        (op.key, op.value): op
        for op in ops
        if op.kind == "write" and op.value is not None
    }


def _check_reads(
    ops: Sequence[Operation], writers: Mapping[tuple[str, str], Operation]
) -> list[str]:
    acked: dict[str, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.kind == "write" and op.result == "ok":
            acked[op.key].append(op)
    found: dict[str, list[str]] = defaultdict(list)
    for read in ops:
        if read.kind != "read" or read.result != "ok":
            continue
        source = None
        if read.value is not None:
            source = writers.get((read.key, read.value))
            problem = _impossible_value(read, source)
            if problem:
                found["impossible read"].append(problem)
                continue
        newer = _overwriting_write(read, source, acked[read.key])
        if newer is not None:
            label = "lost write" if read.client == FINAL_CLIENT else "stale"
            found[label].append(_stale_message(read, source, newer))
    return [
        message
        for label in ("lost write", "stale", "impossible read")
        for message in _capped(found[label])
    ]


def _impossible_value(read: Operation, source: Operation | None) -> str:
    where = f"{read.client} read {read.key}={read.value!r} via {read.endpoint}"
    if source is None:
        return f"{where}: a value never written"
    if source.result == "fail":
        return f"{where}: written only by a failed write ({source.error})"
    if source.start > read.end:
        return f"{where}: its write began after the read ended"
    return ""


def _overwriting_write(
    read: Operation, source: Operation | None, acked: Sequence[Operation]
) -> Operation | None:
    """An acknowledged write the read must have seen but did not."""
    for write in acked:
        if write.end >= read.start or write is source:
            continue
        if source is None:
            return write
        if source.result == "ok" and source.end < write.start:
            return write
        if (
            read.resource_version is not None
            and write.resource_version is not None
            and read.resource_version < write.resource_version
        ):
            return write
    return None


def _stale_message(
    read: Operation, source: Operation | None, newer: Operation
) -> str:
    got = "no value" if source is None else f"{read.value!r}"
    return (
        f"{read.key}: acknowledged write {newer.value!r} ({newer.client} "
        f"via {newer.endpoint}, rv {newer.resource_version}) completed "
        f"before {read.client}'s read via {read.endpoint}, which returned "
        f"{got} (rv {read.resource_version})"
    )


def _check_final_reads(ops: Sequence[Operation]) -> list[str]:
    written = {op.key for op in ops if op.kind == "write"}
    final = {
        op.key
        for op in ops
        if op.client == FINAL_CLIENT and op.kind == "read" and op.result == "ok"
    }
    return [
        f"{key}: no successful final read, the final state is unknown"
        for key in sorted(written - final)
    ]


def _check_minority(
    ops: Sequence[Operation], partition: PartitionWindow
) -> list[str]:
    acked = [
        op
        for op in ops
        if op.kind == "write"
        and op.result == "ok"
        and op.endpoint in partition.minority_endpoints
        and partition.start <= op.start
        and op.end <= partition.end
    ]
    return _capped(
        [
            f"minority {op.endpoint} acknowledged write {op.key}="
            f"{op.value!r} ({op.client}, rv {op.resource_version}) "
            f"{op.start - partition.start:.1f}s into the partition"
            for op in acked
        ]
    )


def _check_resource_versions(ops: Sequence[Operation]) -> list[str]:
    seen: dict[tuple[str, str], Operation] = {}
    found = []
    for op in sorted(ops, key=lambda o: o.start):
        if op.result != "ok" or op.resource_version is None:
            continue
        previous = seen.get((op.client, op.key))
        if (
            previous is not None
            and previous.resource_version is not None
            and op.resource_version < previous.resource_version
        ):
            found.append(
                f"{op.client}: resourceVersion of {op.key} went back from "
                f"{previous.resource_version} to {op.resource_version} "
                f"({op.kind} via {op.endpoint})"
            )
        if previous is None or op.resource_version > (
            previous.resource_version or 0
        ):
            seen[(op.client, op.key)] = op
    return _capped(found)


def _check_etcd(states: Sequence[EtcdState]) -> list[str]:
    if not states:
        return ["etcd: no member state recorded after the heal"]
    revisions = {s.hash_revision for s in states}
    if len(revisions) > 1:
        return [
            "etcd: members hashed different revisions: "
            + ", ".join(f"{s.endpoint}@{s.hash_revision}" for s in states)
        ]
    behind = [s for s in states if s.revision < s.hash_revision]
    found = [
        f"etcd: {s.endpoint} is at revision {s.revision}, behind "
        f"{s.hash_revision}"
        for s in behind
    ]
    if len({s.hash for s in states}) > 1:
        found.append(
            f"etcd: hash mismatch at revision {revisions.pop()}: "
            + ", ".join(f"{s.endpoint}={s.hash}" for s in states)
        )
    return found


def _capped(messages: list[str]) -> list[str]:
    if len(messages) <= MAX_REPORTED:
        return messages
    extra = len(messages) - MAX_REPORTED
    return [*messages[:MAX_REPORTED], f"... and {extra} more like these"]
