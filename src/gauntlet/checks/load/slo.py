"""LOAD-01: the API meets its latency SLOs under load."""

from __future__ import annotations

import os

from gauntlet.checks.context import CheckContext, violated
from gauntlet.load.runner import run_load


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def check_api_latency_slos(ctx: CheckContext) -> None:
    """Drive the request mix with Locust; judge per-name p99 and 5xx.

    Raises:
        GuaranteeViolated: naming each request kind over its SLO and the
            5xx ratio when over budget.
    """
    from gauntlet.load.slo import violations

    cluster = ctx.cluster
    result = run_load(
        cluster.target.kubeconfig_path,
        cluster.context,
        ctx.namespace,
        users=_env_int("KUBE_GAUNTLET_LOAD_USERS", 10),
        seconds=_env_int("KUBE_GAUNTLET_LOAD_SECONDS", 30),
    )
    ctx.evidence("locust stats", [s.__dict__ for s in result.stats])
    ctx.measure(
        "requests per second", result.requests / result.seconds, "req/s"
    )
    for stat in result.stats:
        if not stat.name.startswith("WATCH"):
            ctx.measure(f"{stat.name} p99", stat.p99_s, "s", stat.bound_s)
    ctx.measure("5xx responses", result.server_errors, "responses")
    problems = violations(result.stats, result.server_errors)
    if problems:
        raise violated("API latency SLOs under load", "; ".join(problems))
