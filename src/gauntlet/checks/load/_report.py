"""What a load check reports besides its verdict.

The plots of a run (latency and throughput per second, per request name
and all together), Locust's own stats, and latency seen from both ends:
the client's p99 (what the SLO verdict judges) next to the p99 the API
servers measured themselves, read from every server's
``apiserver_request_duration_seconds`` before and after the run
(``gauntlet.load.server_side``). The server view is reported, never
judged: its buckets are coarse and it counts every client's requests of
the same verb, resource and scope, not only the load's.

Usage::

    with server_latency(ctx) as seen:
        result = run_load(source, ctx.namespace, plan)
    report_load(ctx, result, seen)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gauntlet.checks.arch._apiservers import (
    ApiServer,
    api_pool,
    api_servers,
    ask,
    bearer,
)
from gauntlet.checks.context import CheckContext
from gauntlet.errors import ClusterOperationFailed
from gauntlet.load.outcomes import api_message
from gauntlet.load.runner import LoadResult
from gauntlet.load.server_side import (
    Key,
    Scrape,
    ServerView,
    delta,
    parse_scrape,
    server_key,
)
from gauntlet.load.slo import SLO_P99_S, UNTIMED, EndpointStats, latency_stats
from gauntlet.reporting import attach, plots

__all__ = ["ServerLatency", "SideBySide", "report_load", "server_latency"]

CAVEAT = (
    "server-side latency is apiserver_request_duration_seconds read from "
    "every API server before and after the run; p50/p99 interpolated "
    "between bucket bounds like Prometheus' histogram_quantile. It counts "
    "every client's requests of the same verb, resource and scope (the "
    "metric has no namespace): configmaps are mostly the load's, "
    "cluster-scope pod LISTs partly controllers'. Reported, not judged."
)


@dataclass
class ServerLatency:
    """The API servers' request durations around a run."""

    servers: list[ApiServer] = field(default_factory=list)
    before: dict[ApiServer, Scrape] = field(default_factory=dict)
    unobserved: dict[str, str] = field(default_factory=dict)
    """Server label (or ``API servers``) -> why it is not counted."""
    view: ServerView | None = None
    """Set when the block ends: each observed server's delta."""


@contextlib.contextmanager
def server_latency(ctx: CheckContext) -> Iterator[ServerLatency]:
    """Read every API server's request durations before the block and
    after it. A server that cannot be read either time is unobserved,
    with the reason (never counted as zero); the block always runs."""
    seen = ServerLatency()
    try:
        seen.servers = api_servers(ctx.cluster, ctx.topology)
    except ClusterOperationFailed as exc:
        seen.unobserved["API servers"] = f"cannot be listed: {exc}"
    seen.before = _scrape(ctx, seen.servers, seen.unobserved, "before")
    yield seen
    after = _scrape(ctx, list(seen.before), seen.unobserved, "after")
    seen.view = ServerView(
        {s.label: delta(seen.before[s], after[s]) for s in after},
        dict(seen.unobserved),
    )


def report_load(
    ctx: CheckContext, result: LoadResult, seen: ServerLatency | None
) -> None:
    """Attach the plots and Locust's stats; measure each sent request
    name's p99 from the client and (when ``seen``) from the servers,
    with its SLO bound, and the achieved rate. Judges nothing."""
    ctx.evidence("locust stats", result.locust_stats)
    _attach_plots(result)
    if result.seconds > 0:
        ctx.measure(
            "achieved requests per second", result.achieved_rate, "req/s"
        )
    if result.target_rate is not None:
        ctx.measure("target requests per second", result.target_rate, "req/s")
    sent = [s for s in latency_stats(result.tally) if s.requests > 0]
    for stat in sent:
        if stat.p99_s is not None:
            ctx.measure(
                f"{stat.name} p99 (client)", stat.p99_s, "s", stat.bound_s
            )
    if seen is None:
        return
    view = seen.view or ServerView(
        unobserved={"API servers": "not read after the run"} | seen.unobserved
    )
    comparison, unobserved = _side_by_side(ctx, view, sent)
    ctx.evidence(
        "server-side latency",
        {
            "how": CAVEAT,
            "servers counted": sorted(view.deltas),
            "servers unobserved": dict(view.unobserved),
            "servers restarted during the run (counted since)": (
                view.restarted()
            ),
            "request names": {n: vars(r) for n, r in comparison.items()},
            "request names the servers did not count": unobserved,
            "per series": view.summary(
                k for k in map(_key, result.tally.names()) if k is not None
            ),
        },
    )
    ctx.evidence("client and server latency", _table(comparison, view))


def _scrape(
    ctx: CheckContext,
    servers: list[ApiServer],
    unobserved: dict[str, str],
    when: str,
) -> dict[ApiServer, Scrape]:
    """Each server's histograms; the others into ``unobserved``. The
    servers are asked at once: a slow or starved server costs its own
    timeout, not the sum of all of them."""
    found: dict[ApiServer, Scrape] = {}
    headers = bearer(ctx.cluster)
    with (
        api_pool(ctx.cluster, credentials=True) as pool,
        ThreadPoolExecutor(max(1, len(servers))) as asking,
    ):
        answers = asking.map(
            lambda server: ask(pool, server, "GET", "/metrics", headers),
            servers,
        )
        for server, answer in zip(servers, answers, strict=True):
            if answer.status != 200:
                unobserved[server.label] = (
                    f"/metrics {when} the run answered {answer.status}: "
                    f"{api_message(answer.body)}"
                    if answer.answered
                    else f"/metrics {when} the run: no answer: {answer.body}"
                )
                continue
            try:
                found[server] = parse_scrape(answer.body)
            except ValueError as exc:
                unobserved[server.label] = f"/metrics {when} the run: {exc}"
    return found


@dataclass(frozen=True)
class SideBySide:
    """One request name seen from the client and from the servers."""

    series: str
    """The metric series it lands on (shared by its variants)."""
    client_requests: int
    client_p50_s: float | None
    client_p99_s: float | None
    server_requests: int
    """Every client's requests of the series, on the observed servers."""
    server_p50_s: float | None
    server_p99_s: float | None
    slo_p99_s: float


def _side_by_side(
    ctx: CheckContext, view: ServerView, sent: list[EndpointStats]
) -> tuple[dict[str, SideBySide], dict[str, str]]:
    """Per sent request name: both views (measured), and the names the
    servers never counted, with why."""
    rows: dict[str, SideBySide] = {}
    unobserved: dict[str, str] = {}
    for stat in sent:
        key = _key(stat.name)
        if key is None:
            unobserved[stat.name] = "no apiserver series for this name"
            continue
        server = view.latency(key)
        rows[stat.name] = SideBySide(
            str(key),
            stat.requests,
            stat.p50_s,
            stat.p99_s,
            server.count,
            server.p50_s,
            server.p99_s,
            stat.bound_s,
        )
        if server.p99_s is not None:
            ctx.measure(
                f"{stat.name} p99 (server)", server.p99_s, "s", stat.bound_s
            )
        elif not view.deltas:
            unobserved[stat.name] = "no API server's metrics could be read"
        elif server.count == 0:
            unobserved[stat.name] = (
                f"{key} not counted by {', '.join(sorted(view.deltas))}"
            )
    return rows, unobserved


def _key(name: str) -> Key | None:
    """The series of a load request name; None for a name outside the
    ``<VERB> <scope> <resource>`` scheme (reported as unmapped)."""
    try:
        return server_key(name)
    except ValueError:
        return None


def _table(rows: dict[str, SideBySide], view: ServerView) -> str:
    """The side-by-side view as text, with what it covers."""
    lines = [
        f"{'request name':34} {'client n':>8} {'p99 s':>7}   "
        f"{'server n':>8} {'p99 s':>7}  {'SLO s':>5}  series"
    ]
    for name, row in rows.items():
        lines.append(
            f"{name:34} {row.client_requests:>8} {_s(row.client_p99_s):>7}"
            f"   {row.server_requests:>8} {_s(row.server_p99_s):>7}  "
            f"{row.slo_p99_s:>5g}  {row.series}"
        )
    lines += ["", f"{'series':34} {'load n':>8} {'server n':>8}  load share"]
    load: dict[str, int] = {}
    counted: dict[str, int] = {}
    for row in rows.values():
        load[row.series] = load.get(row.series, 0) + row.client_requests
        counted[row.series] = row.server_requests
    for key in sorted(load):
        share = f"{load[key] / counted[key]:.0%}" if counted[key] else "-"
        lines.append(f"{key:34} {load[key]:>8} {counted[key]:>8}  {share}")
    lines.append("")
    lines.append(f"servers counted: {', '.join(sorted(view.deltas)) or '-'}")
    for server, why in view.unobserved.items():
        lines.append(f"unobserved: {server}: {why}")
    for server in view.restarted():
        lines.append(f"restarted during the run, counted since: {server}")
    lines.append(CAVEAT)
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _attach_plots(result: LoadResult) -> None:
    """One plot of every request name, then one per name."""
    tally = result.tally
    span = (result.started_at, result.ended_at)
    events = [
        plots.Event(step.start, f"{step.rate:g} req/s") for step in result.steps
    ]
    names = tally.names()
    timed = [n for n in names if not n.startswith(UNTIMED)]
    attach.attach_svg(
        "load over time (every request name)",
        plots.load_overview_svg(
            {n: tally.series.get(n, {}) for n in names},
            origin=result.started_at,
            timed=timed,
            span=span,
            events=events,
        ),
    )
    for name in names:
        scope = name.split()[1] if len(name.split()) > 1 else "single"
        attach.attach_svg(
            f"{name} over time",
            plots.request_class_svg(
                name,
                tally.series.get(name, {}),
                origin=result.started_at,
                bound_s=SLO_P99_S.get(scope),
                timed=name in timed,
                span=span,
                events=events,
            ),
        )
