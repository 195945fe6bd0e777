"""PART-04: etcd's quorum math, member by member.

Followers are stopped one at a time while writes go through the API
every 100 ms: with up to (n-1)/2 members down every write must succeed,
with one more none may be acknowledged. The leader is stopped last (never
here for n >= 3), so the windows measure quorum, not an election.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from gauntlet.checks.chaos import _support, writes
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.observe.history import Operation

__all__ = ["STEP_S", "check_quorum_math"]

STEP_S = 12.0
"""How long each count of stopped members is held."""
GRACE_S = 3.0
"""A write already in flight when a member stops may still settle."""
WRITE_PERIOD_S = 0.1


@dataclass(frozen=True)
class Window:
    """Writes while ``down`` members were stopped."""

    down: int
    start: float
    end: float


def check_quorum_math(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """PART-04: (n-1)/2 stopped members are tolerated, one more stops
    writes; after the restore no acknowledged write is lost.

    Parts: one per count of stopped members, and no acknowledged write
    lost (unobserved when a window already broke the quorum math: the
    cluster may then never look healthy again).

    Raises:
        GuaranteeViolated: a write failed within the tolerated count, one
            was acknowledged beyond it, or an acknowledged write was lost.
        CheckSkipped: fewer than 3 members.
    """
    access = ctx.require_nodes("stopping etcd members")
    if members < 3:
        raise CheckSkipped(f"{members} etcd members: no quorum math to test")
    tolerated = (members - 1) // 2
    roles = _support.etcd_roles(ctx)
    victims = [*roles.followers, roles.leader][: tolerated + 1]
    windows: list[Window] = []
    with writes.recording(
        ctx,
        {"lb": ctx.cluster.server},
        writes.PROBE_NAMESPACE,
        reads=False,
        pause_s=WRITE_PERIOD_S,
    ) as recorder:
        time.sleep(_support.BASELINE_S)
        for count, node in enumerate(victims, start=1):
            start = _support.inject(
                ledger,
                f"stop etcd on {node} ({count} of {members} down)",
                kinds.start_component(access, node, "etcd"),
                functools.partial(access.stop, node, "etcd"),
            )
            time.sleep(STEP_S)
            windows.append(Window(count, start, time.monotonic()))
        for node in reversed(victims):
            access.start(node, "etcd")
    broken = False
    for window in windows:
        with ctx.part(_part_name(window, members, tolerated)) as part:
            found = _judge(ctx, recorder.ops, window, members, tolerated)
            for problem in found:
                part.finding(problem)
            broken |= bool(found)
    if broken:  # the cluster may never look healthy: report as it is
        ctx.unobserved(
            "no acknowledged write lost",
            "not read back: a window above broke the quorum math",
        )
    else:
        _support.wait_control_plane_healthy(ctx, members)
        lost = writes.lost_writes(recorder)
        with ctx.part("no acknowledged write lost") as part:
            for problem in writes.no_write_lost(recorder.ops, lost):
                part.finding(problem)
    writes.delete_probes(ctx, recorder)
    _support.restore(ledger)
    ctx.conclude(f"quorum math with {members} etcd members")


def _part_name(window: Window, members: int, tolerated: int) -> str:
    down = f"{window.down} of {members} down"
    if window.down <= tolerated:
        return f"writes succeed with {down}"
    return f"no write acknowledged with {down}"


def _judge(
    ctx: CheckContext,
    ops: list[Operation],
    window: Window,
    members: int,
    tolerated: int,
) -> list[str]:
    """The findings of one window of stopped members.

    Raises:
        CheckSkipped: no write began in the window (after the grace):
            the recorder did not run, so the window proves nothing.
    """
    stats = writes.write_stats(ops, window.start + GRACE_S, window.end)
    down = f"{window.down} of {members} down"
    writes.attempted(stats, f"with {down}")
    if window.down <= tolerated:
        if stats.latency_p99_s is not None:
            ctx.measure(
                f"write latency p99, {down}", stats.latency_p99_s, "s", 1.0
            )
        ctx.measure(f"failed writes, {down}", stats.failed, "", 0)
        if stats.failed:
            return [
                f"{stats.failed} of {stats.total} writes failed with {down}"
                f" (tolerated: {tolerated})"
            ]
        return []
    acked = [
        op
        for op in ops
        if op.kind == "write"
        and op.result == "ok"
        and op.start >= window.start + GRACE_S
        and op.end < window.end
    ]
    ctx.measure(f"writes acknowledged, {down}", len(acked), "", 0)
    if acked:
        return [
            f"{len(acked)} of {stats.total} writes acknowledged with {down}"
            f" (beyond the {tolerated} a quorum of {members} tolerates)"
        ]
    return []
