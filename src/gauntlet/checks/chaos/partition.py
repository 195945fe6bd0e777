"""PART-01 and PART-02: a control-plane node cut off from the others.

Clients talk to every API server directly (never through the load
balancer) while the minority node is partitioned from the other control
planes, and for a few seconds after the heal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gauntlet.checks.chaos import _support, writes
from gauntlet.checks.chaos.split_brain import check_history, etcd_agreement
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.history import (
    Operation,
    PartitionWindow,
    collect_etcd_states,
)

__all__ = [
    "MINORITY_REFUSAL_BOUND_S",
    "PartitionOutcome",
    "check_minority_loses_writes",
    "check_no_split_brain",
]

MINORITY_REFUSAL_BOUND_S = 15.0
"""A write through the minority must have failed within this time."""
MAJORITY_SETTLE_S = 5.0
"""A new etcd leader may need this long when the minority held the lead."""
HOLD_S = 20.0
AFTER_HEAL_S = 5.0
WARMUP_S = 2.0
WRITE_TIMEOUT_S = 10.0
"""Longer than etcd's request timeout: the minority answers, not us."""
HISTORY_TIMEOUT_S = 2.0
REPORTED = 3
"""Violations of one part spelled out in the message (all are in the
evidence)."""


@dataclass(frozen=True)
class PartitionOutcome:
    """What PART-01 measured."""

    minority: str
    refusal_s: float | None
    minority_acks: int
    majority_ok: int
    majority_total: int


def _split(ctx: CheckContext, minority: str | None) -> tuple[str, list[str]]:
    planes = sorted(n.name for n in ctx.topology.control_planes)
    if len(planes) < 3:
        raise CheckSkipped(
            f"{len(planes)} control-plane nodes visible: a minority "
            "partition needs at least 3"
        )
    chosen = minority or planes[-1]
    return chosen, [p for p in planes if p != chosen]


def _endpoints(ctx: CheckContext, nodes: list[str]) -> dict[str, str]:
    found = _support.apiserver_urls(ctx)
    missing = [n for n in nodes if n not in found]
    if missing:
        raise CheckSkipped(
            f"no API server address known for {', '.join(missing)}"
        )
    return {n: found[n] for n in nodes}


def _partition_and_heal(
    ctx: CheckContext,
    ledger: FaultLedger,
    access: NodeAccess,
    cut: str,
    others: list[str],
) -> tuple[float, float, float]:
    """The timeline both checks record through: warm up, cut ``cut`` off
    from ``others`` for ``HOLD_S`` (the node heals itself: the partition
    may cut the pod backend's own path), let the clients see the heal.

    Returns ``time.monotonic()`` as the rules start going in, and the
    window the node recorded them in force (``_support.fault_window``).
    """
    time.sleep(WARMUP_S)
    cutting = time.monotonic()
    outage = _support.partition_for(ledger, access, cut, others, HOLD_S)
    begun, ended = _support.fault_window(
        _support.outage_over(ctx, ledger, access, outage)
    )
    time.sleep(AFTER_HEAL_S)
    return cutting, begun, ended


def check_minority_loses_writes(
    ctx: CheckContext, ledger: FaultLedger, minority: str | None = None
) -> PartitionOutcome:
    """PART-01: the cut-off API server refuses writes, the majority not.

    Partitions ``minority`` (default: the last control plane by name)
    from the other control planes for 20 s while clients write and read
    through every API server.

    Parts: minority acknowledges no write, serves no linearizable read,
    refuses writes in time; each majority API server keeps accepting
    writes. A part without any request recorded is unobserved.

    Raises:
        GuaranteeViolated: the minority acknowledged a write or served a
            linearizable read while cut off, refused no write within
            15 s, or a majority API server failed writes after 5 s.
        CheckSkipped: fewer than 3 control planes or no node access.
    """
    access = ctx.require_nodes("partitioning a control-plane node")
    cut, others = _split(ctx, minority)
    endpoints = _endpoints(ctx, [cut, *others])
    with writes.recording(
        ctx,
        endpoints,
        writes.PROBE_NAMESPACE,
        keys=2,
        timeout_s=WRITE_TIMEOUT_S,
        pause_s=0.1,
        split_reads=True,
    ) as recorder:
        cutting, begun, ended = _partition_and_heal(
            ctx, ledger, access, cut, others
        )
    writes.delete_probes(ctx, recorder)
    _support.restore(ledger)
    ops = recorder.ops
    url = endpoints[cut]
    during = [op for op in ops if op.endpoint == url and begun <= op.start]
    during = [op for op in during if op.start <= ended]
    # An answer that came after the heal may be legitimate: only what was
    # acknowledged while the partition still held counts against it.
    cut_off = [op for op in during if op.result == "ok" and op.end <= ended]
    acks = [op for op in cut_off if op.kind == "write"]
    reads = [op for op in cut_off if op.kind == "read"]
    # Refusals count from the moment the rules started going in.
    refused = [
        op
        for op in ops
        if op.endpoint == url
        and op.kind == "write"
        and op.result != "ok"
        and cutting <= op.start <= ended
    ]
    refusal = min((op.end - cutting for op in refused), default=None)
    majority = [
        writes.write_stats(ops, begun + MAJORITY_SETTLE_S, ended, endpoints[n])
        for n in others
    ]
    outcome = PartitionOutcome(
        cut,
        refusal,
        len(acks),
        sum(s.ok for s in majority),
        sum(s.total for s in majority),
    )
    ctx.evidence(
        "PART-01 operations", [op.to_dict() for op in ops if op.end >= begun]
    )
    tried = f"through {cut} while it was cut off"
    with ctx.part("minority acknowledges no write") as part:
        _require(during, "write", tried)
        ctx.measure("minority writes acknowledged while cut off", len(acks), "")
        if acks:
            first = min(op.start for op in acks) - begun
            part.finding(
                f"{cut} acknowledged {len(acks)} writes while cut off from "
                f"{', '.join(others)} (first {first:.1f}s into the partition)"
            )
    with ctx.part("minority serves no linearizable read") as part:
        _require(during, "read", tried)
        if reads:
            part.finding(
                f"{cut} served {len(reads)} linearizable reads while cut off"
            )
    with ctx.part("minority refuses writes in time") as part:
        _require(
            [
                op
                for op in ops
                if op.endpoint == url and cutting <= op.start <= ended
            ],
            "write",
            tried,
        )
        if refusal is None:
            part.finding(f"no write through {cut} failed while it was cut off")
        else:
            ctx.measure(
                "seconds until the minority API server refuses writes",
                refusal,
                "s",
                bound=MINORITY_REFUSAL_BOUND_S,
                since=ctx.timeline.epoch(cutting),
            )
            if refusal > MINORITY_REFUSAL_BOUND_S:
                part.finding(
                    f"{cut} took {refusal:.1f}s to refuse a write "
                    f"(bound {MINORITY_REFUSAL_BOUND_S:.0f}s)"
                )
    if outcome.majority_total:
        ctx.measure(
            "majority write success while the minority is cut off",
            100.0 * outcome.majority_ok / outcome.majority_total,
            "%",
        )
    for name, stats in zip(others, majority, strict=True):
        with ctx.part(f"majority {name} keeps accepting writes") as part:
            writes.attempted(stats, f"through {name} while {cut} was cut off")
            if stats.failed:
                part.finding(
                    f"majority {name} failed {stats.failed} of {stats.total} "
                    "writes while holding quorum"
                )
    ctx.conclude("minority partition")
    return outcome


def _require(ops: list[Operation], kind: str, tried: str) -> None:
    """Go on only if ``ops`` hold a ``kind`` request.

    Raises:
        CheckSkipped: none was recorded: the recorder did not run.
    """
    if not any(op.kind == kind for op in ops):
        raise CheckSkipped(
            f"no {kind} was recorded {tried}: the recorder did not run"
        )


def check_no_split_brain(
    ctx: CheckContext,
    ledger: FaultLedger,
    members: int,
    minority: str | None = None,
) -> list[str]:
    """PART-02: the history through every API server shows no split brain.

    Records concurrent writes and reads through each API server with 2 s
    timeouts, partitions ``minority`` for 20 s, heals, lets the cluster
    converge, reads every key through every endpoint, and compares the
    KV hashes of every voting member listed before the fault. Returns the
    (empty) violation list.

    Parts: history shows no split brain, etcd members agree.

    Raises:
        GuaranteeViolated: ``check_history`` found violations.
        CheckSkipped: fewer than 3 control planes, no node access, or
            etcd hidden (before any fault).
    """
    access = ctx.require_nodes("partitioning a control-plane node")
    cut, others = _split(ctx, minority)
    endpoints = _endpoints(ctx, [cut, *others])
    etcd = ctx.etcd("comparing etcd members")
    expected = [m for m in etcd.members() if not m.learner]
    with writes.recording(
        ctx,
        endpoints,
        writes.PROBE_NAMESPACE,
        keys=3,
        timeout_s=HISTORY_TIMEOUT_S,
        pause_s=0.05,
    ) as recorder:
        _, begun, ended = _partition_and_heal(ctx, ledger, access, cut, others)
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    recorder.final_reads()
    writes.delete_probes(ctx, recorder)
    states = collect_etcd_states(etcd, len(expected))
    ops = recorder.ops
    window = PartitionWindow(begun, ended, frozenset({endpoints[cut]}))
    history = check_history(ops, window)
    disagreement = etcd_agreement(states, expected)
    write_ops = [op for op in ops if op.kind == "write"]
    ctx.measure("operations recorded", len(ops), "ops")
    ctx.measure(
        "acknowledged writes", sum(op.result == "ok" for op in write_ops), "ops"
    )
    ctx.measure(
        "indeterminate writes (timeouts)",
        sum(op.result == "timeout" for op in write_ops),
        "ops",
    )
    violations = history + disagreement
    ctx.measure("history violations", len(violations), "", bound=0)
    ctx.evidence("PART-02 history", [op.to_dict() for op in ops])
    ctx.evidence("PART-02 etcd states", [s.__dict__ for s in states])
    with ctx.part("history shows no split brain") as part:
        if not any(op.result == "ok" for op in write_ops):
            raise CheckSkipped("no write was acknowledged: nothing to judge")
        if history:
            part.finding(_first(history))
    with ctx.part("etcd members agree") as part:
        if disagreement:
            part.finding(_first(disagreement))
    ctx.conclude("no split brain")
    return violations


def _first(violations: list[str]) -> str:
    """The first ``REPORTED`` violations, and how many more there are."""
    more = len(violations) - REPORTED
    shown = "; ".join(violations[:REPORTED])
    return shown + (f"; and {more} more" if more > 0 else "")
