"""Upstream API call latency SLOs and how a Locust run is judged.

From the Kubernetes scalability SLOs: mutating and single-object reads
p99 <= 1 s, namespace-scoped LIST p99 <= 5 s, cluster-scoped LIST p99 <=
30 s; the error budget for 5xx is 0.1 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SLO_P99_S = {"single": 1.0, "namespace": 5.0, "cluster": 30.0}
MAX_5XX_RATIO = 0.001


@dataclass(frozen=True)
class EndpointStats:
    """One request name's totals from Locust's ``--json-file``."""

    name: str
    method: str
    requests: int
    failures: int
    p50_s: float
    p99_s: float

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


def _percentile(response_times: dict[str, int], q: float) -> float:
    """Percentile (seconds) from Locust's {rounded_ms: count} histogram."""
    points = sorted((float(ms), n) for ms, n in response_times.items())
    total = sum(n for _, n in points)
    if total == 0:
        return 0.0
    seen = 0
    for ms, n in points:
        seen += n
        if seen >= q * total:
            return ms / 1000.0
    return points[-1][0] / 1000.0


def parse_stats(rows: list[dict[str, Any]]) -> list[EndpointStats]:
    """Locust ``--json-file`` rows (one per request name) to stats."""
    return [
        EndpointStats(
            name=row["name"],
            method=row["method"],
            requests=int(row["num_requests"]),
            failures=int(row["num_failures"]),
            p50_s=_percentile(row["response_times"], 0.50),
            p99_s=_percentile(row["response_times"], 0.99),
        )
        for row in rows
    ]


def violations(stats: list[EndpointStats], server_errors: int) -> list[str]:
    """What breaks the SLOs: per-name p99 over its bound, 5xx over budget."""
    judged = [s for s in stats if not s.name.startswith("WATCH")]
    found = [
        f"{s.name}: p99 {s.p99_s:.3f}s over the {s.scope} SLO "
        f"{s.bound_s:g}s ({s.requests} requests)"
        for s in judged
        if s.requests and s.p99_s > s.bound_s
    ]
    total = sum(s.requests for s in stats)
    if total and server_errors / total > MAX_5XX_RATIO:
        found.append(
            f"5xx ratio {server_errors / total:.4%} over the "
            f"{MAX_5XX_RATIO:.1%} budget ({server_errors} of {total})"
        )
    if total == 0:
        found.append("no request completed")
    return found
