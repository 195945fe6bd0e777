"""LOAD-01: the API meets its latency SLOs under load."""

from __future__ import annotations

from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.checks.load._report import report_load, server_latency
from gauntlet.load.credentials import Source
from gauntlet.load.runner import LoadResult, run_load
from gauntlet.load.settings import fixed_rate_plan
from gauntlet.load.slo import error_findings, latency_finding, latency_stats

STEP = "API latency SLOs under load"


def check_api_latency_slos(ctx: CheckContext) -> LoadResult:
    """Drive the scenario's request mix at a fixed rate with Locust, using
    the kubeconfig's own credentials; judge failed requests, 5xx and
    per-kind p99.

    Parts: ``request errors`` (no success, failures over the 1 % budget,
    5xx over 0.1 %) and one ``p99 <kind>`` per timed request kind, timed
    over successful requests only (a kind with none is unobserved).

    Returns the run, for reports built on the same data (server-side
    latency, plots: ``gauntlet.checks.load._report``).

    Raises:
        CredentialsRefused: the API answered 401 or 403 (no verdict).
        GuaranteeViolated: naming each request kind over its SLO and
            each error budget overspent.
        CheckSkipped: not a single request was sent.
        UsageError: a load setting is not valid.
    """
    cluster = ctx.cluster
    target = cluster.target
    source = (
        Source(None, None, in_cluster=True)
        if target.in_cluster
        else Source(target.kubeconfig_path, cluster.context)
    )
    plan = fixed_rate_plan()
    with server_latency(ctx) as seen:  # every API server, before and after
        result = run_load(source, ctx.namespace, plan)
    # Plots, Locust's stats, each class's p99 from the client and from the
    # servers side by side: reported here, judged below from the client.
    report_load(ctx, result, seen)
    tally = result.tally
    ctx.evidence("request outcomes", tally.to_json())
    ctx.measure("successful requests", tally.succeeded, "requests")
    ctx.measure("failed requests", tally.failed, "requests")
    ctx.measure("5xx responses", result.server_errors, "responses")
    for name, events in sorted(tally.events.items()):
        ctx.measure(f"{name} events", events, "events")
    with ctx.part("request errors") as part:
        if tally.requests == 0:
            raise CheckSkipped(f"load on {result.server}: no request was sent")
        for finding in error_findings(tally):
            part.finding(finding)
    for stat in latency_stats(tally):
        with ctx.part(f"p99 {stat.name}") as part:
            if stat.p99_s is None:
                raise CheckSkipped(
                    f"{stat.name}: no successful request to time "
                    f"({stat.requests} sent)"
                )
            over = latency_finding(stat)
            if over:
                part.finding(over)
    ctx.conclude(STEP)
    return result
