"""RES-03, RES-04, RES-05: losing etcd members, the leader, the quorum.

Writes go through the kubeconfig's server (the load balancer in an HA
setup) every 100 ms while members are stopped or killed; every
acknowledged write must survive (``check_history`` on the final reads).
"""

from __future__ import annotations

import functools
import signal
import time
from dataclasses import dataclass

from gauntlet import progress
from gauntlet.checks.chaos import _support, web, writes
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.errors import GauntletError, GuaranteeViolated
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient

__all__ = [
    "ELECTION_BOUND_S",
    "OUTAGE_BOUND_S",
    "check_follower_loss",
    "check_leader_loss",
    "check_quorum_loss",
    "kill_leader",
    "wait_new_leader",
]

WRITE_PERIOD_S = 0.1
FOLLOWER_DOWN_S = 10.0
CATCH_UP_TIMEOUT_S = 60.0
REJOIN_TIMEOUT_S = 180.0
ELECTION_BOUND_S = 5.0
"""Election timeout (1 s default) with pre-vote and margin."""
OUTAGE_BOUND_S = 10.0
"""Longest tolerated gap between acknowledged writes around an election."""
QUORUM_LOSS_S = 12.0
QUORUM_GRACE_S = 3.0
"""Writes already in flight when quorum goes may still be acknowledged."""
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

    The member is stopped for ``FOLLOWER_DOWN_S``; its node starts it
    again itself (stopping etcd may take down the API server the pod
    backend's exec goes through), and writes are judged over the window
    the node recorded.

    Parts: writes keep succeeding, member catches up, no acknowledged
    write lost. A window without any write is unobserved: the recorder
    records every attempt, so an empty window means it did not run.

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
        outage = _support.stop_for(
            ledger, access, follower, "etcd", FOLLOWER_DOWN_S
        )
        ended = _support.outage_over(ctx, ledger, access, outage)
        time.sleep(REJOIN_S)
    down, up = _support.fault_window(ended)
    stats = writes.write_stats(recorder.ops, down, up)
    caught_up = _support.attempt(
        functools.partial(
            _catch_up, ctx.etcd("etcd follower catch-up"), members, follower
        )
    )
    lost = writes.lost_writes(recorder)
    _support.restore(ledger)
    with ctx.part("writes keep succeeding") as part:
        writes.attempted(stats, f"with etcd on {follower} down")
        if stats.latency_p50_s is not None:
            ctx.measure(
                "write latency p50, one follower down", stats.latency_p50_s, "s"
            )
        if stats.latency_p99_s is not None:
            ctx.measure(
                "write latency p99, one follower down",
                stats.latency_p99_s,
                "s",
                1.0,
            )
        ctx.measure("failed writes, one follower down", stats.failed, "", 0)
        if stats.failed:
            part.finding(
                f"{stats.failed} of {stats.total} writes failed with etcd on "
                f"{follower} down"
            )
    with ctx.part("member catches up"):
        seconds = _support.settle(caught_up)
        ctx.measure("seconds for the member to catch up", seconds, "s")
    with ctx.part("no acknowledged write lost") as part:
        for problem in writes.no_write_lost(recorder.ops, lost):
            part.finding(problem)
    ctx.conclude("one etcd follower down")


def check_leader_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-04: killing the leader costs one election and a bounded write
    outage; no acknowledged write is lost.

    Parts: new leader in time, write outage bounded, no acknowledged
    write lost. Without any write around the election the outage is
    unobserved, never 0 s: the recorder records every attempt, whatever
    the answer, so an empty window says the recorder did not run and
    proves nothing about the cluster.

    Raises:
        GuaranteeViolated: no new leader within 5 s, writes stopped for
            more than 10 s, or an acknowledged write was lost.
    """
    access = ctx.require_nodes("killing the etcd leader")
    etcd = ctx.etcd("killing the etcd leader")
    lb = {"lb": ctx.cluster.server}
    with writes.recording(
        ctx, lb, reads=False, pause_s=WRITE_PERIOD_S
    ) as recorder:
        time.sleep(_support.BASELINE_S)
        kill = kill_leader(ctx, ledger, access, etcd)
        killed, elected, leader = kill.killed, kill.elected, kill.leader
        time.sleep(AFTER_ELECTION_S)
    stats = writes.write_stats(recorder.ops, killed - 1.0)
    lost = writes.lost_writes(recorder)
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    with ctx.part("new leader in time") as part:
        election = _support.settle(elected) - killed
        ctx.measure(
            "seconds to elect a new etcd leader",
            election,
            "s",
            ELECTION_BOUND_S,
            since=ctx.timeline.epoch(killed),
        )
        if election > ELECTION_BOUND_S:
            part.finding(f"new leader after {election:.1f}s")
    with ctx.part("write outage bounded") as part:
        gap = writes.longest_gap_s(stats, "around the election")
        ctx.measure("API write outage window", gap, "s", OUTAGE_BOUND_S)
        ctx.measure("failed writes around the election", stats.failed, "")
        if gap > OUTAGE_BOUND_S:
            part.finding(f"no write succeeded for {gap:.1f}s")
    with ctx.part("no acknowledged write lost") as part:
        for problem in writes.no_write_lost(recorder.ops, lost):
            part.finding(problem)
    ctx.conclude(f"etcd leader on {leader} killed")


@dataclass(frozen=True)
class LeaderKill:
    """RES-04's fault as it happened (also under load, LOAD-03)."""

    leader: str
    """The node whose etcd member led and was killed."""
    killed: float
    """``time.monotonic()`` just before the kill."""
    elected: float | GuaranteeViolated
    """``time.monotonic()`` when another member led, or why none did."""


def kill_leader(
    ctx: CheckContext,
    ledger: FaultLedger,
    access: NodeAccess,
    etcd: EtcdClient,
    why: str = "",
) -> LeaderKill:
    """SIGKILL the etcd leader (recorded in ``ledger``, restarted by its
    rollback) and wait for the survivors to elect another."""
    before = etcd.statuses()
    old = next(m for m in before if m.is_leader)
    leader = _support.node_of_address(ctx, old.host)
    others = [m.endpoint for m in before if not m.is_leader]
    killed = time.monotonic()
    _support.inject(
        ledger,
        f"SIGKILL etcd leader on {leader}{why}",
        kinds.start_component(access, leader, "etcd"),
        lambda: access.kill(leader, "etcd", signal.SIGKILL),
    )
    elected = _support.attempt(
        functools.partial(
            wait_new_leader, etcd, old.member_id, others, old.raft_term
        )
    )
    return LeaderKill(leader, killed, elected)


def check_quorum_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-05: without quorum writes fail, pods keep serving; with it back
    writes succeed and no acknowledged write is lost.

    Parts: writes fail without quorum, workload keeps serving, pods
    unchanged, writes succeed with quorum back, no acknowledged write
    lost.

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
    lost = writes.lost_writes(recorder)
    writes.delete_probes(ctx, recorder)
    ok, total = web.service_log(ctx, lost_epoch, back_epoch)
    restarted = web.pod_snapshot(ctx, "web") != pods
    _support.restore(ledger)
    down = f"{len(victims)} of {members} etcd members down"
    with ctx.part("writes fail without quorum") as part:
        writes.attempted(acked, f"with {down}")
        ctx.measure(
            "writes acknowledged without quorum",
            len(acked_without_quorum),
            "",
            0,
        )
        if acked_without_quorum:
            part.finding(
                f"{len(acked_without_quorum)} of {acked.total} writes "
                f"acknowledged with {down}"
            )
    web.judge_service(
        ctx,
        "workload keeps serving",
        ok,
        total,
        "without quorum",
        "without quorum",
    )
    with ctx.part("pods unchanged") as part:
        if restarted:
            part.finding("web pods were replaced or restarted")
    with ctx.part("writes succeed with quorum back") as part:
        if not after:
            part.finding("no write succeeded after quorum came back")
        else:
            recovery = min(op.end for op in after) - back_at
            ctx.measure(
                "seconds until writes succeed with quorum back",
                recovery,
                "s",
                since=back_epoch,
            )
    with ctx.part("no acknowledged write lost") as part:
        for problem in writes.no_write_lost(recorder.ops, lost):
            part.finding(problem)
    ctx.conclude("etcd quorum lost")


def wait_new_leader(
    etcd: EtcdClient, old_id: str, endpoints: list[str], old_term: int = 0
) -> float:
    """Monotonic time the surviving members first agree on a leader
    elected after the kill: another member, or the killed one again at a
    later raft term (restarted at once, as a kubelet restarts a static
    pod, it may win the election it caused).

    etcd has no watch for leadership: its status is polled every 200 ms.

    Raises:
        GuaranteeTimeout: no agreement within ``ELECTION_TIMEOUT_S``, with
            the leader each survivor last reported.
    """
    last = ["no survivor answered"]

    def agreed() -> float | None:
        try:
            alive = etcd.statuses(endpoints)
        except GauntletError as exc:  # members may not answer mid-vote
            last[0] = f"no survivor answered ({exc})"
            return None
        last[0] = ", ".join(
            f"{m.endpoint} follows {m.leader_id}" for m in alive
        )
        leaders = {m.leader_id for m in alive}
        if not alive or len(leaders) != 1 or leaders == {"0"}:
            return None
        later = old_term and min(m.raft_term for m in alive) > old_term
        if leaders != {old_id} or later:
            return time.monotonic()
        return None

    found: float = progress.wait_until(
        "a new etcd leader",
        agreed,
        ELECTION_TIMEOUT_S,
        ELECTION_POLL_S,
        lambda: last[0],
        quiet=True,
    )
    return found


def _catch_up(etcd: EtcdClient, members: int, node: str) -> float:
    """Seconds until ``members`` members hash the same at one revision,
    counted from when all of them answer again.

    The restarted member first has to run: on a kubeadm control plane
    the kubelet restarts its etcd static pod late, as it talks to its own
    API server, which stalls with that etcd down; that is the kubelet's
    time, not etcd's catch-up, so it is awaited (``REJOIN_TIMEOUT_S``)
    before the catch-up clock starts.

    Raises:
        GuaranteeTimeout: a member not answering within
            ``REJOIN_TIMEOUT_S``, or not caught up within
            ``CATCH_UP_TIMEOUT_S``, with the revisions and hashes last
            seen.
    """

    def answering() -> bool:
        try:
            return len(etcd.statuses()) >= members
        except GauntletError:  # a member still starting: retried
            return False

    progress.wait_until(
        f"etcd on {node} answering again",
        answering,
        REJOIN_TIMEOUT_S,
        1.0,
        quiet=True,
    )
    start = time.monotonic()
    last = ["no member answered"]

    def same() -> bool:
        try:
            found = etcd.statuses()
            revision = min(m.revision for m in found)
            sums = etcd.hashes(revision)
        except GauntletError as exc:  # a member still starting: retried
            last[0] = f"no answer ({exc})"
            return False
        last[0] = f"{len(found)} members answered; " + ", ".join(
            f"{h.endpoint} hash {h.hash} at {h.hash_revision}" for h in sums
        )
        return (
            len(found) >= members
            and len(sums) >= members
            and len({h.hash for h in sums}) == 1
        )

    progress.wait_until(
        f"etcd on {node} at the others' revision and hash",
        same,
        CATCH_UP_TIMEOUT_S,
        1.0,
        lambda: last[0],
        quiet=True,
    )
    return time.monotonic() - start
