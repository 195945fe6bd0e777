"""LOAD-03: chaos under load stays within an error budget.

LOAD-01's mix runs at its fixed rate, with the kubeconfig's own
credentials through the kubeconfig's server (the front door), while the
etcd leader is killed (RES-04's fault) and then one API server is
stopped (RES-07's), each through the fault ledger with RES's own
machinery (``checks.chaos._support``). The verdict comes from the load's
own request log (``_outage``), not from a probe of our own: what the
clients of the cluster would have seen.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from gauntlet.checks.chaos import _support
from gauntlet.checks.chaos.control_plane import APISERVER_DOWN_S
from gauntlet.checks.chaos.etcd import ELECTION_BOUND_S, kill_leader
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.checks.load import _outage
from gauntlet.errors import GuaranteeViolated, Unobservable
from gauntlet.faults.ledger import FaultLedger
from gauntlet.load.credentials import Source
from gauntlet.load.plan import LoadPlan
from gauntlet.load.runner import LoadResult, start_load
from gauntlet.load.settings import fixed_rate_plan
from gauntlet.nodes.base import NodeAccess
from gauntlet.reporting import attach, plots

__all__ = [
    "APISERVER_OUTAGE_BOUND_S",
    "APISERVER_PART",
    "ETCD_OUTAGE_BOUND_S",
    "ETCD_PART",
    "check_chaos_under_load",
]

STEP = "chaos under load"
ETCD_PART = "etcd leader kill under load"
APISERVER_PART = "one API server down under load"
ETCD_OUTAGE_BOUND_S = ELECTION_BOUND_S + 3.0
"""RES-04's election bound, plus whole-second rounding and the API
server's own retry to the new leader."""
APISERVER_OUTAGE_BOUND_S = 3.0
"""Clients' connections to the dead API server break once; the front
door sends the new ones to the others."""
STARTUP_S = 5.0
"""Locust's start-up (imports, users spawned and paced on 2 cores)
before the first baseline second; a fault sent before the users ran is
judged on the seconds they ran (``_outage.fault_load``)."""
BEFORE_S = 5.0
"""Seconds of load before each fault: the rate before."""
MARGIN_S = 3.0
"""Seconds after recovery still counted to the fault."""
MIN_WINDOW_S = 10.0
"""Shortest fault window: requests cut by a kill may hang for etcd's
request timeout (7 s) before they fail, and the users they hold send
nothing meanwhile; judged over fewer seconds than that, a recovery in
1 s makes each of those failures weigh several times more."""
TAIL_S = 2.0
"""Seconds of load after the last window, so it closes in the run."""
RESULT_TIMEOUT_S = 120.0
"""Locust's shutdown and the tally's transfer once stopped."""
MAX_RUN_S = 300
"""The plan's length; the run is stopped once the faults are judged."""


@dataclass(frozen=True)
class _Seen:
    """One fault as the runner saw it."""

    window: _outage.FaultWindow
    what: str
    """The fault, as its findings name it."""
    detail: dict[str, float]
    """Figures of the fault itself (election, restart), measured."""
    violation: GuaranteeViolated | None = None
    """A wait in the fault window that failed (kept for its part)."""


def check_chaos_under_load(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """Kill the etcd leader, then stop one API server, while the load
    runs; judge each fault's window from the load's request log.

    Parts: ``etcd leader kill under load``, ``one API server down under
    load`` (each: failed requests within 5 % of the window's requests,
    no run of whole seconds without a success over its bound), and
    ``errors outside the fault windows`` (LOAD-01's 1 %, no 5xx).
    Without node access or etcd (recovery is read from it) both parts
    are unobserved with the reason and no load runs; without a second
    API server that part is.

    Raises:
        CredentialsRefused: the API answered 401 or 403 (no verdict).
        GuaranteeViolated: naming each fault whose error budget or
            outage bound was overspent, and errors outside the windows.
        CheckSkipped: no fault could be injected.
    """
    faults = _faults(ctx, members)
    if not faults:
        ctx.conclude(STEP)  # every part unobserved: skips with the reasons
        return
    access = ctx.require_nodes("killing control-plane components")
    plan = _plan()
    cluster = ctx.cluster
    target = cluster.target
    source = Source(
        None if target.in_cluster else target.kubeconfig_path,
        None if target.in_cluster else cluster.context,
        target.in_cluster,
    )
    seen: list[_Seen] = []
    with start_load(source, ctx.namespace, plan) as running:
        time.sleep(STARTUP_S + BEFORE_S)
        for name in faults:
            if seen:  # the last window closed, and a clean baseline
                _sleep_until(seen[-1].window.end + BEFORE_S)
            inject = _kill_etcd_leader if name == ETCD_PART else _stop_api
            seen.append(inject(ctx, ledger, access, members))
        _sleep_until(seen[-1].window.end + TAIL_S)
        running.stop()
        result = running.result(RESULT_TIMEOUT_S)
    _judge(ctx, result, seen)
    ctx.conclude(STEP)


def _sleep_until(epoch: float) -> None:
    time.sleep(max(0.0, epoch - time.time()))


def _plan() -> LoadPlan:
    """LOAD-01's mix and fixed rate (the ``load.*`` settings), long
    enough for both faults; the run is stopped early."""
    return dataclasses.replace(fixed_rate_plan(), seconds=MAX_RUN_S)


def _faults(ctx: CheckContext, members: int) -> list[str]:
    """The parts whose fault can be injected, once the control plane is
    healthy; the others are recorded unobserved with the reason."""
    try:
        ctx.require_nodes("killing control-plane components")
    except Unobservable as exc:
        for name in (ETCD_PART, APISERVER_PART):
            ctx.unobserved(name, str(exc))
        return []
    try:
        ctx.etcd(ETCD_PART)
    except Unobservable as exc:
        # Recovery from either fault is a healthy control plane, which
        # is read from etcd (``_support.wait_control_plane_healthy``).
        for name in (ETCD_PART, APISERVER_PART):
            ctx.unobserved(name, str(exc))
        return []
    _support.wait_control_plane_healthy(ctx, members)  # one leader
    found = [ETCD_PART]
    apiservers = _support.apiserver_urls(ctx)
    if len(apiservers) < 2:
        ctx.unobserved(
            APISERVER_PART, f"{len(apiservers)} API server: no HA to test"
        )
    else:
        found.append(APISERVER_PART)
    return found


def _kill_etcd_leader(
    ctx: CheckContext, ledger: FaultLedger, access: NodeAccess, members: int
) -> _Seen:
    """RES-04's fault: SIGKILL the leader, wait for the survivors to
    elect another, start it again, wait for a healthy control plane."""
    etcd = ctx.etcd(ETCD_PART)
    start = time.time()
    kill = kill_leader(ctx, ledger, access, etcd, " (under load)")
    killed, elected, leader = kill.killed, kill.elected, kill.leader
    _support.restore(ledger)
    healthy = _support.wait_control_plane_healthy(ctx, members)
    recovered = time.time()
    detail = {"seconds until the control plane is healthy": healthy}
    violation = None
    if isinstance(elected, GuaranteeViolated):
        violation = elected
    else:
        detail["seconds to elect a new etcd leader"] = elected - killed
    window = _outage.FaultWindow(
        ETCD_PART,
        start,
        recovered,
        MARGIN_S,
        ETCD_OUTAGE_BOUND_S,
        MIN_WINDOW_S,
    )
    return _Seen(window, f"etcd leader on {leader} killed", detail, violation)


def _stop_api(
    ctx: CheckContext, ledger: FaultLedger, access: NodeAccess, members: int
) -> _Seen:
    """RES-07's fault: the first API server (the one a fixed-order front
    door prefers) crashed and kept down for ``APISERVER_DOWN_S``; its
    node starts it again; then a healthy control plane is awaited."""
    victim = sorted(_support.apiserver_urls(ctx))[0]
    start = time.time()
    outage = _support.stop_for(
        ledger, access, victim, "kube-apiserver", APISERVER_DOWN_S, now=True
    )
    ended = _support.outage_over(ctx, ledger, access, outage)
    _support.restore(ledger)
    healthy = _support.wait_control_plane_healthy(ctx, members)
    recovered = time.time()
    detail = {
        "seconds the API server was down": ended.ended_at - ended.applied_at,
        "seconds until the control plane is healthy": healthy,
    }
    window = _outage.FaultWindow(
        APISERVER_PART,
        start,
        recovered,
        MARGIN_S,
        APISERVER_OUTAGE_BOUND_S,
        MIN_WINDOW_S,
    )
    return _Seen(window, f"kube-apiserver on {victim} down", detail)


def _judge(ctx: CheckContext, result: LoadResult, seen: list[_Seen]) -> None:
    """One part per fault, then the run outside the fault windows."""
    tally = result.tally
    run = (result.started_at, result.ended_at)
    ctx.evidence("locust stats", result.locust_stats)
    ctx.evidence("request outcomes", tally.to_json())
    ctx.evidence(
        "fault windows",
        [
            {
                "part": s.window.name,
                "fault": s.what,
                "start": s.window.start,
                "recovered": s.window.recovered,
                "end": s.window.end,
                **s.detail,
            }
            for s in seen
        ],
    )
    attach.attach_svg(
        "load with the fault windows",
        plots.load_overview_svg(
            tally.series,
            origin=result.started_at,
            timed=[n for n in tally.series if not n.startswith("WATCH")],
            span=run,
            windows=[
                plots.Window(s.window.start, s.window.end, s.window.name)
                for s in seen
            ],
            events=[plots.Event(s.window.start, s.what) for s in seen],
        ),
    )
    ctx.measure("requests per second", result.achieved_rate, "req/s")
    for fault in seen:
        load = _outage.fault_load(tally, fault.window, BEFORE_S, run)
        ctx.evidence(
            f"{fault.window.name}: what the load saw",
            {
                "requests": load.requests,
                "failed": load.failed,
                "failed_by_status": load.by_status,
                "outage_s": load.outage_s,
                "outage_from": load.outage_from,
                "rate_before": load.rate_before,
                "rate_during": load.rate_during,
            },
        )
        _judge_fault(ctx, load, fault)
    with ctx.part("errors outside the fault windows") as part:
        sent = tally.window(*run)  # not the users' cleanup after the stop
        outside = _outage.outside_windows(sent, [s.window for s in seen])
        if outside.requests == 0:
            raise CheckSkipped(
                f"load on {result.server}: no request outside the faults"
            )
        ctx.measure(
            "failed requests outside the fault windows", outside.failed, ""
        )
        for finding in _outage.outside_findings(outside):
            part.finding(finding)


def _judge_fault(
    ctx: CheckContext, load: _outage.FaultLoad, fault: _Seen
) -> None:
    short = fault.window.name.removesuffix(" under load")
    with ctx.part(fault.window.name) as part:
        for name, value in fault.detail.items():
            ctx.measure(f"{name}, {short} under load", value, "s")
        if fault.violation is not None:
            part.finding(str(fault.violation))
        if load.requests == 0:
            raise CheckSkipped(f"{fault.what}: no request sent in its window")
        ctx.measure(f"failed requests, {short}", load.failed, "")
        ctx.measure(
            f"failed share, {short}",
            load.failed_ratio * 100,
            "%",
            _outage.MAX_FAILED_IN_FAULT * 100,
        )
        ctx.measure(
            f"outage window, {short}",
            load.outage_s,
            "s",
            fault.window.max_outage_s,
        )
        if load.rate_before is not None:
            ctx.measure(
                f"requests per second before, {short}",
                load.rate_before,
                "req/s",
            )
        ctx.measure(
            f"requests per second during, {short}", load.rate_during, "req/s"
        )
        for finding in _outage.fault_findings(load, fault.what):
            part.finding(finding)
