"""Upstream API call latency SLOs and how a load run is judged.

From the Kubernetes scalability SLOs: mutating and single-object reads
p99 <= 1 s, namespace-scoped LIST p99 <= 5 s, cluster-scoped LIST p99 <=
30 s; 5xx below 0.1 %. Every request that is not a success counts:
401/403 mean the run's credentials are refused (a configuration error,
no verdict), any other failure spends the error budget, and a run
without a single success is never a pass. Latency is timed over
successful requests only: fast failures must not make a small p99.
"""

from __future__ import annotations

from dataclasses import dataclass

from gauntlet.load.outcomes import NO_RESPONSE, Tally

__all__ = [
    "MAX_5XX_RATIO",
    "MAX_FAILED_RATIO",
    "REFUSALS",
    "REQUEST_KINDS",
    "SLO_P99_S",
    "EndpointStats",
    "error_findings",
    "latency_finding",
    "latency_stats",
    "refusal",
]

SLO_P99_S = {"single": 1.0, "namespace": 5.0, "cluster": 30.0}
MAX_5XX_RATIO = 0.001
"""5xx responses allowed, as a share of all requests (upstream SLO)."""
MAX_FAILED_RATIO = 0.01
"""Failed requests of any kind allowed, as a share of all requests."""
REFUSALS = {401: "unauthorized", 403: "forbidden"}
"""Statuses that refuse the run's credentials rather than judge the API."""
REQUEST_KINDS = (
    "GET single configmap",
    "LIST namespace configmaps",
    "LIST namespace configmaps rv=0",
    "LIST namespace configmaps paged",
    "LIST cluster pods",
    "LIST cluster pods rv=0",
    "LIST cluster pods paged",
    "CREATE single configmap",
    "UPDATE single configmap",
    "PATCH single configmap",
    "DELETE single configmap",
    "WATCH namespace configmaps",
)
"""The request names of the mixes (``gauntlet/load/scenarios.py``):
``<VERB> <scope> <resource>[ <variant>]``, so the scope picks the SLO.
``rv=0`` LISTs are served from the watch cache; ``paged`` LISTs walk
``limit``/``continue``, each page counted as one request."""
UNTIMED = "WATCH"
"""Watches last until their timeout: sent and counted, never timed."""


@dataclass(frozen=True)
class EndpointStats:
    """One request name's totals; percentiles over its successes."""

    name: str
    requests: int
    failures: int
    p50_s: float | None
    """``None``: no successful request to time."""
    p99_s: float | None

    @property
    def scope(self) -> str:
        """SLO scope from the request name: ``<VERB> <scope> <resource>``."""
        parts = self.name.split()
        return (
            parts[1] if len(parts) > 1 and parts[1] in SLO_P99_S else "single"
        )

    @property
    def bound_s(self) -> float:
        return SLO_P99_S[self.scope]


def latency_stats(tally: Tally) -> list[EndpointStats]:
    """Every timed request kind, including kinds of the mix never sent."""
    names = sorted(set(REQUEST_KINDS) | set(tally.names()))
    return [
        EndpointStats(
            name=name,
            requests=sum(tally.timings.get(name, {}).values())
            + sum(tally.failures.get(name, {}).values()),
            failures=sum(tally.failures.get(name, {}).values()),
            p50_s=_percentile(tally.timings.get(name, {}), 0.50),
            p99_s=_percentile(tally.timings.get(name, {}), 0.99),
        )
        for name in names
        if not name.startswith(UNTIMED)
    ]


def refusal(tally: Tally) -> str | None:
    """``unauthorized``/``forbidden`` with the API's message, or None."""
    counts = tally.by_status()
    for status, word in REFUSALS.items():
        if counts.get(status):
            first = tally.first[status]
            return (
                f"{word} ({status} on {first.name}, {counts[status]} of "
                f"{tally.requests} requests): {first.message}"
            )
    return None


def error_findings(tally: Tally) -> list[str]:
    """Failures over the error budget, 5xx over theirs, no success."""
    total = tally.requests
    if total == 0:
        return []
    failed = tally.failed
    found = []
    if tally.succeeded == 0:
        found.append(f"no successful request: {failed} of {total} failed")
    elif failed / total > MAX_FAILED_RATIO:
        found.append(
            f"failed requests {failed / total:.2%} over the "
            f"{MAX_FAILED_RATIO:.0%} budget ({failed} of {total})"
        )
    server = sum(n for s, n in tally.by_status().items() if s >= 500)
    if server / total > MAX_5XX_RATIO:
        found.append(
            f"5xx ratio {server / total:.4%} over the "
            f"{MAX_5XX_RATIO:.1%} budget ({server} of {total})"
        )
    if found:
        found[-1] += f" [{_breakdown(tally)}]"
    return found


def latency_finding(stat: EndpointStats) -> str | None:
    """The p99 over its SLO bound, or None (also when nothing was timed)."""
    if stat.p99_s is None or stat.p99_s <= stat.bound_s:
        return None
    return (
        f"{stat.name}: p99 {stat.p99_s:.3f}s over the {stat.scope} SLO "
        f"{stat.bound_s:g}s ({stat.requests - stat.failures} timed requests)"
    )


def _breakdown(tally: Tally) -> str:
    """``500 x3 (etcdserver: ...), no response x2 (...)``."""
    parts = []
    for status, n in tally.by_status().items():
        what = "no response" if status == NO_RESPONSE else str(status)
        first = tally.first.get(status)
        why = f" ({first.name}: {first.message})" if first else ""
        parts.append(f"{what} x{n}{why}")
    return ", ".join(parts)


def _percentile(histogram: dict[int, int], q: float) -> float | None:
    """Percentile (seconds) of a {rounded_ms: count} histogram; None when
    it holds no sample (zero samples are never a latency of 0)."""
    points = sorted(histogram.items())
    total = sum(n for _, n in points)
    if total == 0:
        return None
    seen = 0
    for ms, n in points:
        seen += n
        if seen >= q * total:
            return ms / 1000.0
    return points[-1][0] / 1000.0
