"""ARCH-12: health endpoints are green.

``/readyz?verbose`` and ``/livez?verbose`` are asked of every API server
directly (the ``kubernetes`` EndpointSlice's addresses and every
control-plane node's address on that port), with the run's credentials
and the cluster CA (host names are not checked: the servers are addressed
by IP). etcd health comes from etcdctl, for every member of the member
list. Two parts: a failing API server stays a failure when etcd cannot be
observed.
"""

from __future__ import annotations

from collections.abc import Mapping

from gauntlet.checks.arch._apiservers import (
    Answer,
    ApiServer,
    api_pool,
    api_servers,
    ask,
    bearer,
)
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.cluster.client import Cluster

__all__ = [
    "ApiServer",
    "check_health_endpoints_are_green",
    "health_findings",
    "probe_api_server",
]

STEP = "health endpoints are green"
API_PART = "API server health"
ETCD_PART = "etcd member health"
ENDPOINTS = ("/readyz?verbose", "/livez?verbose")


def check_health_endpoints_are_green(ctx: CheckContext) -> None:
    """Every API server is ready and live; every etcd member healthy.

    Raises:
        GuaranteeViolated: naming the API server (node and URL), the
            endpoint and its failing checks, or the etcd member and its
            error; also when the other part cannot be observed.
        CheckSkipped: nothing could be observed.
    """
    with ctx.part(API_PART) as part:
        _api_servers_health(ctx, part)
    with ctx.part(ETCD_PART) as part:
        _etcd_health(ctx, part)
    ctx.conclude(STEP)


def probe_api_server(
    cluster: Cluster, server: ApiServer, path: str
) -> tuple[int | str, str]:
    """One health request to one API server: (status, body)."""
    with api_pool(cluster, credentials=True) as pool:
        answer = ask(pool, server, "GET", path, bearer(cluster))
    return answer.status or "no answer", answer.body


def health_findings(
    answers: Mapping[tuple[ApiServer, str], Answer],
) -> list[str]:
    """One finding per (server, endpoint) that did not answer 200, with
    its failing checks (``[-]...`` lines) or the start of its body."""
    problems = []
    for (server, path), answer in answers.items():
        if answer.status == 200:
            continue
        failing = [
            line.strip()
            for line in answer.body.splitlines()
            if line.startswith("[-]")
        ]
        detail = ", ".join(failing) or answer.body.strip()[:200]
        status = answer.status or "no answer"
        problems.append(
            f"{server.label} {path.split('?')[0]} answered {status}: {detail}"
        )
    return problems


def _api_servers_health(ctx: CheckContext, part: Part) -> None:
    servers = api_servers(ctx.cluster, ctx.topology)
    if not servers:
        raise CheckSkipped(
            "no API server published in the kubernetes EndpointSlices "
            "and no control-plane node visible"
        )
    headers = bearer(ctx.cluster)
    with api_pool(ctx.cluster, credentials=True) as pool:
        answers = {
            (s, path): ask(pool, s, "GET", path, headers)
            for s in servers
            for path in ENDPOINTS
        }
    ctx.evidence(
        "API server health",
        {
            f"{s.label} {path}": f"{a.status or 'no answer'}\n{a.body}"
            for (s, path), a in answers.items()
        },
    )
    problems = health_findings(answers)
    ctx.measure("API server health failures", len(problems), "", bound=0)
    for problem in problems:
        part.finding(problem)


def _etcd_health(ctx: CheckContext, part: Part) -> None:
    members = ctx.etcd(ETCD_PART).members()
    if not members:
        raise CheckSkipped("etcd listed no members")
    ctx.evidence(
        "etcd health",
        {m.label: m.error or "healthy" for m in members},
    )
    sick = [m for m in members if not m.healthy]
    ctx.measure("unhealthy etcd members", len(sick), "members", bound=0)
    for m in sick:
        part.finding(f"etcd member {m.label} is unhealthy: {m.error}")
