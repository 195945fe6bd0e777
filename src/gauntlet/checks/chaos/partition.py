"""PART-01 and PART-02: a control-plane node cut off from the others.

Clients talk to every API server directly (never through the load
balancer) while the minority node is partitioned from the other control
planes, and for a few seconds after the heal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gauntlet.checks.chaos import _support, writes
from gauntlet.checks.chaos.split_brain import check_history
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.history import PartitionWindow, collect_etcd_states

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
    ledger: FaultLedger, access: NodeAccess, cut: str, others: list[str]
) -> tuple[float, float, float]:
    """The timeline both checks record through: warm up, cut ``cut`` off
    from ``others``, hold, heal, let the clients see the heal.

    Returns ``time.monotonic()`` as the rules start going in, once they
    are in, and when the partition ends.
    """
    time.sleep(WARMUP_S)
    cutting = time.monotonic()
    begun = _support.inject(
        ledger,
        f"partition {cut} from {', '.join(others)}",
        kinds.heal_partition(access, cut),
        lambda: access.partition(cut, others),
    )
    time.sleep(HOLD_S)
    ended = time.monotonic()
    access.heal(cut)
    time.sleep(AFTER_HEAL_S)
    return cutting, begun, ended


def check_minority_loses_writes(
    ctx: CheckContext, ledger: FaultLedger, minority: str | None = None
) -> PartitionOutcome:
    """PART-01: the cut-off API server refuses writes, the majority not.

    Partitions ``minority`` (default: the last control plane by name)
    from the other control planes for 20 s while clients write and read
    through every API server.

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
        cutting, begun, ended = _partition_and_heal(ledger, access, cut, others)
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
    ctx.measure("minority writes acknowledged while cut off", len(acks), "")
    if refusal is not None:
        ctx.measure(
            "seconds until the minority API server refuses writes",
            refusal,
            "s",
            bound=MINORITY_REFUSAL_BOUND_S,
        )
    ctx.measure(
        "majority write success while the minority is cut off",
        100.0 * outcome.majority_ok / max(outcome.majority_total, 1),
        "%",
    )
    ctx.evidence(
        "PART-01 operations", [op.to_dict() for op in ops if op.end >= begun]
    )
    problems = []
    if acks:
        first = min(op.start for op in acks) - begun
        problems.append(
            f"{cut} acknowledged {len(acks)} writes while cut off from "
            f"{', '.join(others)} (first {first:.1f}s into the partition)"
        )
    if reads:
        problems.append(
            f"{cut} served {len(reads)} linearizable reads while cut off"
        )
    if refusal is None:
        problems.append(f"no write through {cut} failed while it was cut off")
    elif refusal > MINORITY_REFUSAL_BOUND_S:
        problems.append(
            f"{cut} took {refusal:.1f}s to refuse a write "
            f"(bound {MINORITY_REFUSAL_BOUND_S:.0f}s)"
        )
    for name, stats in zip(others, majority, strict=True):
        if stats.failed or not stats.total:
            problems.append(
                f"majority {name} failed {stats.failed} of {stats.total} "
                "writes while holding quorum"
            )
    if problems:
        raise violated("minority partition", "; ".join(problems))
    return outcome


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
    etcd members' KV hashes. Returns the (empty) violation list.

    Raises:
        GuaranteeViolated: ``check_history`` found violations.
        CheckSkipped: fewer than 3 control planes or no node access.
    """
    access = ctx.require_nodes("partitioning a control-plane node")
    cut, others = _split(ctx, minority)
    endpoints = _endpoints(ctx, [cut, *others])
    with writes.recording(
        ctx,
        endpoints,
        writes.PROBE_NAMESPACE,
        keys=3,
        timeout_s=HISTORY_TIMEOUT_S,
        pause_s=0.05,
    ) as recorder:
        _, begun, ended = _partition_and_heal(ledger, access, cut, others)
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    recorder.final_reads()
    writes.delete_probes(ctx, recorder)
    states = collect_etcd_states(ctx.etcd("comparing etcd members"), members)
    ops = recorder.ops
    window = PartitionWindow(begun, ended, frozenset({endpoints[cut]}))
    violations = check_history(ops, states, window)
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
    ctx.measure("history violations", len(violations), "", bound=0)
    ctx.evidence("PART-02 history", [op.to_dict() for op in ops])
    ctx.evidence("PART-02 etcd states", [s.__dict__ for s in states])
    if violations:
        raise violated("no split brain", "; ".join(violations[:3]))
    return violations
