"""RES-03, RES-04, RES-05: losing etcd members, the leader, the quorum.

Writes go through the kubeconfig's server (the load balancer in an HA
setup) every 100 ms while members are stopped or killed; every
acknowledged write must survive (``check_history`` on the final reads).
"""

from __future__ import annotations

import functools
import signal
import time

from gauntlet.checks.chaos import _support, web, writes
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.errors import GauntletError
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.observe.etcd import EtcdClient

__all__ = [
    "ELECTION_BOUND_S",
    "OUTAGE_BOUND_S",
    "check_follower_loss",
    "check_leader_loss",
    "check_quorum_loss",
]

WRITE_PERIOD_S = 0.1
FOLLOWER_DOWN_S = 10.0
CATCH_UP_TIMEOUT_S = 60.0
ELECTION_BOUND_S = 5.0
"""Election timeout (1 s default) with pre-vote and margin."""
OUTAGE_BOUND_S = 10.0
"""Longest tolerated gap between acknowledged writes around an election."""
QUORUM_LOSS_S = 12.0
QUORUM_GRACE_S = 3.0
"""Writes already in flight when quorum goes may still be acknowledged."""
SERVICE_MIN_RATIO = 0.95
ELECTION_POLL_S = 0.2
ELECTION_TIMEOUT_S = 30.0
REJOIN_S = 2.0
"""Writes kept recording after a stopped member is started again."""
AFTER_ELECTION_S = 8.0
"""Writes kept recording after the new leader, so the outage closes."""
QUORUM_BASELINE_S = 3.0
"""Writes recorded before quorum goes (longer: three API servers)."""
AFTER_RECOVERY_S = 2.0
"""Writes kept recording once the control plane is healthy again."""


def check_follower_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-03: writes keep succeeding with one follower stopped, and the
    member catches up (same revision and hash) after its restart.

    Raises:
        GuaranteeViolated: a write failed or was lost, or the member did
            not catch up within 60 s.
    """
    access = ctx.require_nodes("stopping an etcd member")
    follower = _support.etcd_roles(ctx).followers[0]
    lb = {"lb": ctx.cluster.server}
    with writes.recording(
        ctx, lb, reads=False, pause_s=WRITE_PERIOD_S
    ) as recorder:
        time.sleep(_support.BASELINE_S)
        down = _support.inject(
            ledger,
            f"stop etcd on {follower}",
            kinds.start_component(access, follower, "etcd"),
            lambda: access.stop(follower, "etcd"),
        )
        time.sleep(FOLLOWER_DOWN_S)
        up = time.monotonic()
        access.start(follower, "etcd")
        time.sleep(REJOIN_S)
    stats = writes.write_stats(recorder.ops, down, up)
    caught_up = _catch_up(ctx.etcd("etcd follower catch-up"), members)
    lost = writes.lost_writes(recorder)
    _support.restore(ledger)
    ctx.measure(
        "write latency p50, one follower down", stats.latency_p50_s, "s"
    )
    ctx.measure(
        "write latency p99, one follower down", stats.latency_p99_s, "s", 1.0
    )
    ctx.measure("failed writes, one follower down", stats.failed, "", 0)
    if caught_up is not None:
        ctx.measure("seconds for the member to catch up", caught_up, "s")
    problems = []
    if stats.failed or not stats.total:
        problems.append(
            f"{stats.failed} of {stats.total} writes failed with etcd on "
            f"{follower} down"
        )
    if caught_up is None:
        problems.append(
            f"etcd on {follower} did not reach the same revision and hash "
            f"within {CATCH_UP_TIMEOUT_S:.0f}s"
        )
    problems += lost
    if problems:
        raise violated("one etcd follower down", "; ".join(problems))


def check_leader_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-04: killing the leader costs one election and a bounded write
    outage; no acknowledged write is lost.

    Raises:
        GuaranteeViolated: no new leader within 5 s, writes stopped for
            more than 10 s, or an acknowledged write was lost.
    """
    access = ctx.require_nodes("killing the etcd leader")
    etcd = ctx.etcd("killing the etcd leader")
    before = etcd.statuses()
    old = next(m for m in before if m.is_leader)
    leader = _support.node_of_address(ctx, old.host)
    others = [m.endpoint for m in before if not m.is_leader]
    lb = {"lb": ctx.cluster.server}
    with writes.recording(
        ctx, lb, reads=False, pause_s=WRITE_PERIOD_S
    ) as recorder:
        time.sleep(_support.BASELINE_S)
        killed = time.monotonic()
        _support.inject(
            ledger,
            f"SIGKILL etcd leader on {leader}",
            kinds.start_component(access, leader, "etcd"),
            lambda: access.kill(leader, "etcd", signal.SIGKILL),
        )
        election = (
            _wait_new_leader(etcd, old.member_id, others, leader) - killed
        )
        time.sleep(AFTER_ELECTION_S)
    stats = writes.write_stats(recorder.ops, killed - 1.0)
    lost = writes.lost_writes(recorder)
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    ctx.measure("seconds to elect a new etcd leader", election, "s", 5.0)
    ctx.measure("API write outage window", stats.max_gap_s, "s", OUTAGE_BOUND_S)
    ctx.measure("failed writes around the election", stats.failed, "")
    problems = []
    if election > ELECTION_BOUND_S:
        problems.append(f"new leader after {election:.1f}s")
    if stats.max_gap_s > OUTAGE_BOUND_S:
        problems.append(f"no write succeeded for {stats.max_gap_s:.1f}s")
    problems += lost
    if problems:
        raise violated(f"etcd leader on {leader} killed", "; ".join(problems))


def check_quorum_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-05: without quorum writes fail, pods keep serving; with it back
    writes succeed and no acknowledged write is lost.

    Raises:
        GuaranteeViolated: a write was acknowledged without quorum, the
            Service answered less than 95 % of requests, a pod restarted,
            or an acknowledged write was lost.
        CheckSkipped: fewer than 3 members.
    """
    access = ctx.require_nodes("stopping etcd members")
    found = _support.etcd_roles(ctx)
    majority = members // 2 + 1
    if members < 3:
        raise CheckSkipped(f"{members} etcd members: no quorum to lose")
    victims = [*found.followers, found.leader][:majority]
    placed = web.deploy_web(ctx)
    web.start_service_client(ctx, "web", sorted(set(placed.values()))[0])
    pods = web.pod_snapshot(ctx, "web")
    lb = {"lb": ctx.cluster.server}
    with writes.recording(
        ctx,
        lb,
        writes.PROBE_NAMESPACE,  # where a split-brain API server answers
        reads=False,
        pause_s=WRITE_PERIOD_S,
    ) as recorder:
        time.sleep(QUORUM_BASELINE_S)
        for node in victims:
            _support.inject(
                ledger,
                f"stop etcd on {node}",
                kinds.start_component(access, node, "etcd"),
                functools.partial(access.stop, node, "etcd"),
            )
        lost_at, lost_epoch = time.monotonic(), time.time()
        time.sleep(QUORUM_LOSS_S)
        back_at, back_epoch = time.monotonic(), time.time()
        for node in reversed(victims):
            access.start(node, "etcd")
        _support.wait_control_plane_healthy(ctx, members)
        time.sleep(AFTER_RECOVERY_S)
    acked = writes.write_stats(recorder.ops, lost_at + QUORUM_GRACE_S, back_at)
    # A write blocked during the outage may complete once quorum is back:
    # only an acknowledgement *while* quorum was lost breaks the guarantee.
    acked_without_quorum = [
        op
        for op in recorder.ops
        if op.kind == "write"
        and op.result == "ok"
        and op.start >= lost_at + QUORUM_GRACE_S
        and op.end < back_at
    ]
    after = [
        op
        for op in recorder.ops
        if op.kind == "write" and op.start >= back_at and op.result == "ok"
    ]
    recovery = min((op.end for op in after), default=back_at) - back_at
    lost = writes.lost_writes(recorder)
    writes.delete_probes(ctx, recorder)
    ok, total = web.service_log(ctx, lost_epoch, back_epoch)
    restarted = web.pod_snapshot(ctx, "web") != pods
    _support.restore(ledger)
    ratio = ok / total if total else 0.0
    ctx.measure(
        "writes acknowledged without quorum", len(acked_without_quorum), "", 0
    )
    ctx.measure("Service success without quorum", 100 * ratio, "%")
    ctx.measure("seconds until writes succeed with quorum back", recovery, "s")
    problems = []
    if acked_without_quorum:
        problems.append(
            f"{len(acked_without_quorum)} of {acked.total} writes "
            "acknowledged with "
            f"{len(victims)} of {members} etcd members down"
        )
    if not after:
        problems.append("no write succeeded after quorum came back")
    if ratio < SERVICE_MIN_RATIO:
        problems.append(
            f"the Service answered {ok} of {total} requests without quorum"
        )
    if restarted:
        problems.append("web pods were replaced or restarted")
    problems += lost
    if problems:
        raise violated("etcd quorum lost", "; ".join(problems))


def _wait_new_leader(
    etcd: EtcdClient,
    old_id: str,
    endpoints: list[str],
    old_node: str,
) -> float:
    """Monotonic time the surviving members first agree on a new leader.

    etcd has no watch for leadership: its status is polled every 200 ms.
    """
    deadline = time.monotonic() + ELECTION_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            alive = etcd.statuses(endpoints)
        except GauntletError:  # members may not answer mid-vote
            alive = []
        leaders = {m.leader_id for m in alive}
        if alive and len(leaders) == 1 and leaders - {"0", old_id}:
            return time.monotonic()
        time.sleep(ELECTION_POLL_S)
    raise violated(
        f"etcd leader on {old_node} killed",
        f"no new leader within {ELECTION_TIMEOUT_S:.0f}s",
    )


def _catch_up(etcd: EtcdClient, members: int) -> float | None:
    start = time.monotonic()
    deadline = start + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            found = etcd.statuses()
            revision = min(m.revision for m in found)
            sums = etcd.hashes(revision)
        except GauntletError:  # retried until the deadline
            found, sums = [], []
        if (
            len(found) >= members
            and len(sums) >= members
            and len({h.hash for h in sums}) == 1
        ):
            return time.monotonic() - start
        time.sleep(1.0)
    return None
