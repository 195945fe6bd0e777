"""LOAD-01: the API meets its latency SLOs under load."""

from __future__ import annotations

import os

from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.load.runner import run_load
from gauntlet.load.slo import error_findings, latency_finding, latency_stats

STEP = "API latency SLOs under load"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def check_api_latency_slos(ctx: CheckContext) -> None:
    """Drive the request mix with Locust using the kubeconfig's own
    credentials; judge failed requests, 5xx and per-kind p99.

    Parts: ``request errors`` (no success, failures over the 1 % budget,
    5xx over 0.1 %) and one ``p99 <kind>`` per timed request kind, timed
    over successful requests only (a kind with none is unobserved).

    Raises:
        CredentialsRefused: the API answered 401 or 403 (no verdict).
        GuaranteeViolated: naming each request kind over its SLO and
            each error budget overspent.
        CheckSkipped: not a single request was sent.
    """
    cluster = ctx.cluster
    target = cluster.target
    result = run_load(
        None if target.in_cluster else target.kubeconfig_path,
        None if target.in_cluster else cluster.context,
        ctx.namespace,
        users=_env_int("KUBE_GAUNTLET_LOAD_USERS", 10),
        seconds=_env_int("KUBE_GAUNTLET_LOAD_SECONDS", 30),
        in_cluster=target.in_cluster,
    )
    tally = result.tally
    ctx.evidence("locust stats", result.locust_stats)
    ctx.evidence("request outcomes", tally.to_json())
    ctx.measure("requests per second", tally.requests / result.seconds, "req/s")
    ctx.measure("successful requests", tally.succeeded, "requests")
    ctx.measure("failed requests", tally.failed, "requests")
    ctx.measure("5xx responses", result.server_errors, "responses")
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
            ctx.measure(f"{stat.name} p99", stat.p99_s, "s", stat.bound_s)
            over = latency_finding(stat)
            if over:
                part.finding(over)
    ctx.conclude(STEP)
