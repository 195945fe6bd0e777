"""LOAD-02: overload is shed, not fatal.

A tenant ServiceAccount (``_tenant``) in a small priority level of its
own (``_apf``) is ramped until API Priority and Fairness sheds it with
429s, while the system's own traffic is watched: every API server's
``/livez`` and ``/readyz`` (``_health``), every node Lease and Node
(``_heartbeats``), and each server's process start time. The knee (the
rate at which 429s start, the rate at which some class's p99 leaves its
SLO) comes from the ramp's steps and the load's per-second tally
(``_knee``).
"""

from __future__ import annotations

import contextlib

from gauntlet import progress
from gauntlet.checks.arch._apiservers import ApiServer, api_servers
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.checks.load import _apf, _health, _heartbeats, _knee, _tenant
from gauntlet.checks.load._ramp import RampOutcome, ramp_until_shed
from gauntlet.checks.load._report import report_load
from gauntlet.faults.ledger import FaultLedger
from gauntlet.load.slo import MAX_5XX_RATIO

__all__ = ["STEP", "check_overload_is_shed"]

STEP = "overload is shed, not fatal"
SETTLE_S = 30.0
"""How long the servers get to take up the new level."""


def check_overload_is_shed(ctx: CheckContext, ledger: FaultLedger) -> None:
    """Ramp the tenant's load until its level sheds; the system's own
    traffic must not notice.

    Parts: ``shed with 429``, ``health endpoints``, ``node leases``,
    ``nodes Ready``, ``API servers not restarted``.

    Raises:
        GuaranteeViolated: naming each part's findings.
        CheckSkipped: nothing could be observed.
    """
    cluster = ctx.cluster
    servers = api_servers(cluster, ctx.topology)
    name = f"kg-load02-{ctx.namespace}"
    with contextlib.ExitStack() as stack:
        who = stack.enter_context(
            _tenant.tenant(cluster, ledger, ctx.namespace, name)
        )
        _make_level(stack, ctx, ledger, name, who)
        _apf.wait_level_known(cluster, servers, name, SETTLE_S)
        before = _apf.read_servers(cluster, servers)
        watched = stack.enter_context(_heartbeats.observe_heartbeats(cluster))
        with _health.HealthProber(cluster, servers) as prober:
            outcome = ramp_until_shed(ctx, who, servers, name)
        after = _apf.read_servers(cluster, servers)
    report_load(ctx, outcome.result, None)  # plots, the steps as events
    ctx.evidence("ramp steps", [s.to_json() for s in outcome.verdicts])
    ctx.evidence("request outcomes", outcome.result.tally.to_json())
    _judge_shedding(ctx, outcome, before, after, name)
    _judge_health(ctx, prober.probes)
    _judge_leases(ctx, watched, outcome.start, outcome.end)
    _judge_nodes(ctx, watched, outcome.start)
    _judge_restarts(ctx, before, after)
    ctx.conclude(STEP)


def _make_level(
    stack: contextlib.ExitStack,
    ctx: CheckContext,
    ledger: FaultLedger,
    name: str,
    who: _tenant.Tenant,
) -> None:
    api = _apf.flowcontrol(ctx.cluster)
    _tenant.made(
        stack,
        ledger,
        ctx.cluster,
        ("PriorityLevelConfiguration", name, None, _apf.API_VERSION),
        lambda: api.create_priority_level_configuration(
            _tenant.as_body(_apf.priority_level(name))
        ),
        lambda: api.delete_priority_level_configuration(name),
    )
    _tenant.made(
        stack,
        ledger,
        ctx.cluster,
        ("FlowSchema", name, None, _apf.API_VERSION),
        lambda: api.create_flow_schema(
            _tenant.as_body(
                _apf.flow_schema(name, name, who.account, who.namespace)
            )
        ),
        lambda: api.delete_flow_schema(name),
    )


def _judge_shedding(
    ctx: CheckContext,
    outcome: RampOutcome,
    before: list[_apf.ServerView],
    after: list[_apf.ServerView],
    level: str,
) -> None:
    tally = outcome.result.tally
    shed = _knee.knee_of(outcome.verdicts, "shed")
    slo = _knee.knee_of(outcome.verdicts, "slo")
    rejected = _apf.rejected_during(before, after)
    settings = _apf.describe_level()
    progress.say(
        f"LOAD-02 knee ({settings}): 429s {shed.describe()}; "
        f"p99 over its SLO {slo.describe()}; steps: "
        + ", ".join(
            f"{v.target_rate:g}->{v.achieved_rate:.0f}"
            + (f" (429 x{v.shed})" if v.shed else "")
            for v in outcome.verdicts
        )
    )
    ctx.evidence(
        "knee",
        {
            "priority level": settings,
            "first 429": shed.describe(),
            "p99 leaves its SLO": slo.describe(),
            "rejected by the servers, per level": rejected,
        },
    )
    for label, knee in (("first 429", shed), ("p99 over SLO", slo)):
        if knee.step is not None:
            ctx.measure(f"{label} at target", knee.step.target_rate, "req/s")
            ctx.measure(
                f"{label} at achieved", knee.step.achieved_rate, "req/s"
            )
    if outcome.highest is not None:
        ctx.measure("highest achieved rate", outcome.highest, "req/s")
    with ctx.part("shed with 429") as part:
        if tally.requests == 0:
            raise CheckSkipped("the ramp sent no request")
        server_errors = sum(n for s, n in tally.by_status().items() if s >= 500)
        ctx.measure("429 responses", tally.by_status().get(429, 0), "responses")
        ctx.measure("5xx responses", server_errors, "responses")
        if server_errors / tally.requests > MAX_5XX_RATIO:
            part.finding(
                f"{server_errors} of {tally.requests} requests answered 5xx "
                f"under overload (budget {MAX_5XX_RATIO:.1%})"
            )
        if not shed.reached:
            if slo.reached and slo.step is not None:
                part.finding(
                    f"p99 left its SLO {slo.describe()} "
                    f"({'; '.join(slo.step.over_slo)}) but no 429 "
                    f"{shed.describe()}"
                )
                return
            raise CheckSkipped(
                f"the level was never overloaded: 429s {shed.describe()}"
            )
        if rejected is not None and not rejected:
            part.finding(
                "429s seen by the load but no API server's apiserver_"
                "flowcontrol_rejected_requests_total rose"
            )
        elif rejected is not None and level not in rejected:
            progress.say(
                f"LOAD-02: the tenant was shed by {', '.join(rejected)}, "
                f"not by its own level {level}"
            )


def _judge_health(ctx: CheckContext, probes: list[_health.Probe]) -> None:
    with ctx.part("health endpoints") as part:
        summaries = _health.summarise(probes)
        if not summaries:
            raise CheckSkipped("no health probe was answered or sent")
        ctx.evidence("health probes", [s.__dict__ for s in summaries])
        worst = max((s.max_s or 0.0) for s in summaries)
        ctx.measure(
            "slowest health answer", worst, "s", _health.PROBE_TIMEOUT_S
        )
        ctx.measure("bad health answers", sum(s.bad for s in summaries), "")
        for summary in summaries:
            found = summary.finding()
            if found:
                part.finding(found)


def _judge_leases(
    ctx: CheckContext,
    watched: _heartbeats.Observers,
    start: float,
    end: float,
) -> None:
    with ctx.part("node leases") as part:
        latest = watched.leases.latest()
        if not latest:
            raise CheckSkipped(
                f"no node Lease in {_heartbeats.LEASE_NAMESPACE}"
            )
        gaps = []
        for node in sorted(latest):
            times, duration = _heartbeats.lease_renewals(
                watched.leases.history(node)
            )
            bound = _heartbeats.gap_bound_s(duration)
            gaps.append(_heartbeats.lease_gaps(node, times, start, end, bound))
        ctx.measure(
            "longest node Lease gap",
            max(g.gap_s for g in gaps),
            "s",
            min(g.bound_s for g in gaps),
        )
        for gap in gaps:
            if gap.over:
                part.finding(gap.finding())


def _judge_nodes(
    ctx: CheckContext, watched: _heartbeats.Observers, start: float
) -> None:
    with ctx.part("nodes Ready") as part:
        found = [
            _heartbeats.readiness(node, watched.nodes.history(node), start)
            for node in sorted(watched.nodes.latest())
        ]
        if not found:
            raise CheckSkipped("no node listed")
        judged = [r for r in found if r.ready_at_start]
        if not judged:
            raise CheckSkipped(
                "no node was Ready before the ramp: "
                + ", ".join(r.node for r in found)
            )
        went = _heartbeats.not_ready_during(judged)
        if went:
            part.finding(f"NotReady during the ramp: {', '.join(went)}")


def _judge_restarts(
    ctx: CheckContext,
    before: list[_apf.ServerView],
    after: list[_apf.ServerView],
) -> None:
    with ctx.part("API servers not restarted") as part:
        pairs = list(zip(before, after, strict=True))
        seen = [
            (b, a)
            for b, a in pairs
            if b.started() is not None and a.started() is not None
        ]
        if not seen:
            why = "; ".join(v.why for v in before + after if v.why)
            raise CheckSkipped(
                f"no API server's {_apf.STARTED} could be read twice: "
                f"{why or 'not exposed'}"
            )
        for first, last in seen:
            restarted = _apf.restarted(first, last)
            if restarted:
                part.finding(restarted)
        unseen = [b.server for b, a in pairs if (b, a) not in seen]
        if unseen:
            progress.say(f"LOAD-02: start time not read of {_labels(unseen)}")


def _labels(servers: list[ApiServer]) -> str:
    return ", ".join(s.label for s in servers)
