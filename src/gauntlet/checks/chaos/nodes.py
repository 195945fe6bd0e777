"""RES-01 and RES-02: a worker that loses its kubelet.

The node is watched through ``workers.since`` (when the API published the
change); the pods' containers through their server processes on the host
(``workers.servers``). Both faults cut the pod backend's own exec path
(it runs through the kubelet), so the node is handed the kubelet's
restart: RES-01 stops it for a planned ``KUBELET_OUTAGE_S`` and reads
afterwards when the node started it again; RES-02's kill plans a start
that fires only if the kubelet's own supervisor let it down, and the new
kubelet's start time comes from the node's kernel. PART-03 (the worker
cut off) is in ``worker_partition``.
"""

from __future__ import annotations

import functools
import signal
import time
from typing import Any

from gauntlet.checks.chaos import _support, web, workers
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import workloads
from gauntlet.errors import ClusterOperationFailed, NodeAccessError
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess, sh_on
from gauntlet.nodes.host_clock import process_starts
from gauntlet.observe.watch import Watcher

__all__ = [
    "KUBELET_OUTAGE_S",
    "NOT_READY_BOUND_S",
    "RESTART_BOUND_S",
    "check_kubelet_crash",
    "check_kubelet_stop",
]

NODE_MONITOR_GRACE_S = 50.0
"""kube-controller-manager's default --node-monitor-grace-period."""
NOT_READY_BOUND_S = NODE_MONITOR_GRACE_S + 15.0
RESTART_BOUND_S = 15.0
"""kubeadm's kubelet.service restarts after ``RestartSec=10``; a margin."""
SETTLE_S = 20.0
"""How long the node is watched after its new kubelet started."""
PROCESS_POLL_S = 0.25
PROCESS_TIMEOUT_S = 10.0
WINDOW_EDGE_S = 1.0
KUBELET_OUTAGE_S = workers.NOT_READY_TIMEOUT_S
"""How long RES-01's kubelet stays stopped: as long as NotReady is
awaited, so that a node slower than the bound is still seen going
NotReady (and reported late), with the taint and a new pod inside."""
CRASH_UNDO_S = RESTART_BOUND_S + SETTLE_S
"""When the node starts RES-02's killed kubelet itself, should its
supervisor not have: after the restart window and the watch."""
PLACE_TIMEOUT_S = 60.0
PLACE_MIN_S = 10.0
PLACE_MARGIN_S = 5.0
"""A new pod's placement ends this long before the kubelet is back (one
placed after it may rightly land on the node); it is not tried with
less than ``PLACE_MIN_S`` to go."""


def check_kubelet_stop(ctx: CheckContext, ledger: FaultLedger) -> None:
    """RES-01: a worker whose kubelet stops goes NotReady, is tainted
    unreachable, gets no new pod and keeps its containers; after the
    kubelet starts again it is Ready and no pod restarted.

    The kubelet stays stopped for ``KUBELET_OUTAGE_S``; the node starts
    it again itself, and Ready is timed from the moment it did.

    Parts: NotReady in time, unreachable taint, new pods avoid the node,
    containers keep running, Ready again without pod restarts.

    Raises:
        GuaranteeViolated: naming the node and the step that failed.
        CheckSkipped: fewer than 2 workers or no node access.
    """
    access = ctx.require_nodes("stopping a kubelet")
    core = ctx.cluster.core()
    placed = web.deploy_web(ctx)
    worker = workers.pick(ctx, placed)
    pods = web.pod_snapshot(ctx, "web")
    servers = workers.servers(access, worker, placed)
    with Watcher(core.list_node) as watcher:
        stopped = time.time()
        down = _support.stop_for(
            ledger, access, worker, "kubelet", KUBELET_OUTAGE_S
        )
        not_ready = _support.attempt(
            lambda: workers.since(
                watcher, worker, stopped, _not_ready, "NotReady"
            )
        )
        tainted = _support.attempt(
            lambda: workers.since(
                watcher, worker, stopped, workers.tainted, "tainted unreachable"
            )
        )
        left = min(PLACE_TIMEOUT_S, down.left_s() - PLACE_MARGIN_S)
        new_pod_on = (
            _support.attempt(functools.partial(_place_new_pod, ctx, left))
            if left >= PLACE_MIN_S
            else None
        )
        # The node starts its kubelet again itself: through the pod
        # backend the runner cannot reach it before.
        started = _support.outage_over(ctx, ledger, access, down).ended_at
        ready = _support.attempt(
            lambda: workers.since(
                watcher, worker, started, _is_ready, "Ready again"
            )
        )
    kept = workers.servers(access, worker, placed)
    _support.restore(ledger)
    after = web.pod_snapshot(ctx, "web")
    with ctx.part("NotReady in time") as part:
        seconds = _support.settle(not_ready)
        ctx.measure(
            "seconds to NotReady after the kubelet stops",
            seconds,
            "s",
            NOT_READY_BOUND_S,
            since=stopped,
        )
        if seconds > NOT_READY_BOUND_S:
            part.finding(f"{worker} went NotReady only after {seconds:.0f}s")
    with ctx.part("unreachable taint"):
        seconds = _support.settle(tainted)
        ctx.measure(
            "seconds to the unreachable taint", seconds, "s", since=stopped
        )
    with ctx.part("new pods avoid the node") as part:
        if new_pod_on is None:
            raise CheckSkipped(
                f"{worker} went NotReady too late in the "
                f"{KUBELET_OUTAGE_S:g}s outage to place a pod meanwhile"
            )
        if _support.settle(new_pod_on) == worker:
            part.finding(f"a new pod was scheduled onto NotReady {worker}")
    with ctx.part("containers keep running") as part:
        if not servers:
            raise CheckSkipped(f"cannot see the pods' processes on {worker}")
        if kept != servers:
            part.finding(
                f"containers on {worker} did not run through the outage "
                f"(server PIDs {servers} -> {kept})"
            )
    with ctx.part("Ready again without pod restarts") as part:
        seconds = _support.settle(ready)
        ctx.measure(
            "seconds to Ready after the kubelet start",
            seconds,
            "s",
            since=started,
        )
        if after != pods:
            part.finding(f"pods changed: {pods} -> {after}")
    ctx.conclude(f"kubelet stopped on {worker}")


def check_kubelet_crash(ctx: CheckContext, ledger: FaultLedger) -> None:
    """RES-02: a SIGKILLed kubelet is back (a new process) within the
    restart delay; the node never leaves Ready and no pod restarts.

    The new kubelet's start is the node kernel's record, read once the
    node answers. Should no supervisor restart it, the node starts it
    itself after ``CRASH_UNDO_S`` (that start never counts as a restart).

    Parts: a new kubelet in time, node stays Ready, no pod restarts.

    Raises:
        GuaranteeViolated: naming the node and what did not hold.
        CheckSkipped: fewer than 2 workers, no node access, or no kubelet
            process visible on the node.
    """
    access = ctx.require_nodes("killing a kubelet")
    placed = web.deploy_web(ctx)
    worker = workers.pick(ctx, placed)
    pods = web.pod_snapshot(ctx, "web")
    before = _kubelet_pids(access, worker)
    if not before:
        raise CheckSkipped(f"no kubelet process is visible on {worker}")
    with Watcher(ctx.cluster.core().list_node) as watcher:
        killed = time.time()
        _support.inject(
            ledger,
            f"SIGKILL kubelet on {worker}",
            kinds.start_component(access, worker, "kubelet"),
            lambda: access.kill(
                worker, "kubelet", signal.SIGKILL, for_s=CRASH_UNDO_S
            ),
        )
        back = _new_kubelet(access, worker, before, killed, CRASH_UNDO_S)
        time.sleep(SETTLE_S)
        left_ready = [
            s
            for s in watcher.history(worker)
            if s.at >= killed and workers.ready(s.obj) != "True"
        ]
    _support.restore(ledger)
    after = web.pod_snapshot(ctx, "web")
    with ctx.part("a new kubelet in time") as part:
        if back is not None:
            ctx.measure(
                "seconds until a new kubelet runs",
                back,
                "s",
                RESTART_BOUND_S,
                since=killed,
            )
        if back is None or back > RESTART_BOUND_S:
            when = "never" if back is None else f"only after {back:.1f}s"
            part.finding(
                f"no new kubelet process within {RESTART_BOUND_S:.0f}s "
                f"({when}): its supervisor (systemd unit) does not restart it"
            )
    with ctx.part("node stays Ready") as part:
        ctx.measure(
            "node status changes away from Ready", len(left_ready), "", 0
        )
        if left_ready:
            first = left_ready[0]
            part.finding(
                f"{worker} went Ready={workers.ready(first.obj)} "
                f"{first.at - killed:.1f}s after the kill"
            )
    with ctx.part("no pod restarts") as part:
        if after != pods:
            part.finding(f"pods changed: {pods} -> {after}")
    ctx.conclude(f"kubelet killed on {worker}")


def _not_ready(node: Any) -> bool:
    return workers.ready(node) != "True"


def _is_ready(node: Any) -> bool:
    return workers.ready(node) == "True"


def _kubelet_pids(access: NodeAccess, node: str) -> set[int]:
    return {p.pid for p in access.processes(node) if p.comm == "kubelet"}


def _new_kubelet(
    access: NodeAccess,
    node: str,
    old: set[int],
    killed: float,
    window_s: float,
) -> float | None:
    """Seconds from ``killed`` (``time.time()``) to the start of a
    kubelet other than ``old`` seen within ``window_s`` (None: none).

    Node access may itself be down meanwhile (the pod backend execs
    through this very kubelet): such a poll counts as "not yet", and the
    start time comes from the node's kernel, so a late look still
    measures the restart itself.
    """
    run = sh_on(access, node)
    while time.time() - killed < window_s:
        try:
            starts = process_starts(run, "kubelet", PROCESS_TIMEOUT_S)
        except (NodeAccessError, ClusterOperationFailed):
            starts = {}
        # The node's own planned start comes at the window's end: a
        # kubelet started then is not its supervisor's restart.
        new = [
            at - killed
            for pid, at in starts.items()
            if pid not in old and at - killed < window_s - WINDOW_EDGE_S
        ]
        if new:
            return max(0.0, min(new))
        time.sleep(PROCESS_POLL_S)
    return None


def _place_new_pod(ctx: CheckContext, timeout_s: float) -> str:
    """The node a new pod is scheduled to (while a worker is NotReady).

    Raises:
        GuaranteeTimeout: the pod was not scheduled within ``timeout_s``.
    """
    core = ctx.cluster.core()
    manifest = workloads.shell_pod(
        "after-fault", ctx.images.workload, labels={"app": "after-fault"}
    )
    core.create_namespaced_pod(ctx.namespace, manifest)  # type: ignore[arg-type]
    placed = workloads.wait_all_scheduled(
        core, ctx.namespace, "after-fault", 1, timeout_s
    )
    return next(iter(placed.values()))
