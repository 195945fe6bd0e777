"""The API servers' own view of a load run's latency.

Each kube-apiserver keeps ``apiserver_request_duration_seconds``, a
histogram per verb, resource, scope (and group, subresource, component,
...) of the time it spent on each request, in its own memory. Read from
every server before and after a run, the difference is what the servers
served meanwhile; its p50 and p99 are interpolated between the bucket
bounds exactly like Prometheus' ``histogram_quantile`` (so they are as
coarse as the buckets: 0.2-0.4 s, 1-1.25 s, ...; a server p99 may sit
above the client's inside one bucket).

The metric counts every client, not only the load: configmap requests
are mostly the load's on a quiet cluster, cluster-scope pod LISTs partly
controllers', and WATCH durations are stream lifetimes, not latencies.
Only core resources without a subresource are read (the load sends
nothing else; ``pods/status`` and the like are other clients'). A server
that restarted between the two reads counts from its restart only and
is named so; a server whose metrics could not be read is unobserved,
never zero.

Pure: parsing and arithmetic on exposition text. Asking the servers is
``gauntlet.checks.load._report``'s job (the checks floor knows them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "METRIC",
    "Delta",
    "Histogram",
    "Key",
    "Latency",
    "Scrape",
    "ServerView",
    "delta",
    "histogram_quantile",
    "merge",
    "parse_scrape",
    "server_key",
]

METRIC = "apiserver_request_duration_seconds"
START_TIME = "process_start_time_seconds"
"""Changes when the server restarts: its counters started again."""
VERBS = {
    "GET": "GET",
    "LIST": "LIST",
    "WATCH": "WATCH",
    "CREATE": "POST",
    "UPDATE": "PUT",
    "PATCH": "PATCH",
    "DELETE": "DELETE",
}
"""The load's verb word -> the metric's ``verb`` label."""
SCOPES = {"single": "resource", "namespace": "namespace", "cluster": "cluster"}
"""The load's scope word -> the metric's ``scope`` label. A create names
no object in its URL, yet the API server counts it as ``resource``
(``CleanScope``: a name, or the create verb)."""
UNTIMED_VERBS = frozenset({"WATCH"})
"""Server durations of these are stream lifetimes: counted, not timed."""

_LINE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$"
)
_LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, order=True)
class Key:
    """One series of the metric as the load names it."""

    verb: str
    """``GET``, ``LIST``, ``WATCH``, ``POST``, ``PUT``, ``PATCH``, ..."""
    resource: str
    """Plural, core group: ``configmaps``, ``pods``."""
    scope: str
    """``resource``, ``namespace`` or ``cluster``."""

    def __str__(self) -> str:
        return f"{self.verb} {self.resource} scope={self.scope}"


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts by upper bound (``+Inf`` included)."""

    buckets: Mapping[float, float]
    total_s: float = 0.0
    """``_sum``: seconds spent on all of them."""

    @property
    def count(self) -> float:
        """Observations: the ``+Inf`` bucket (what Prometheus uses)."""
        return self.buckets.get(math.inf, 0.0)

    def quantile(self, q: float) -> float | None:
        return histogram_quantile(q, self.buckets)

    def minus(self, earlier: Histogram) -> Histogram:
        """Observations since ``earlier`` (same counters, not reset)."""
        return Histogram(
            {
                le: n - earlier.buckets.get(le, 0.0)
                for le, n in self.buckets.items()
            },
            self.total_s - earlier.total_s,
        )

    def went_back(self, earlier: Histogram) -> bool:
        """Whether a counter is lower than before: the server restarted."""
        return any(
            self.buckets.get(le, 0.0) < n for le, n in earlier.buckets.items()
        )


@dataclass(frozen=True)
class Scrape:
    """One server's histograms at one moment."""

    histograms: Mapping[Key, Histogram]
    started_at: float | None = None
    """``process_start_time_seconds`` (epoch), when exposed."""


@dataclass(frozen=True)
class Delta:
    """What one server served between two scrapes."""

    histograms: Mapping[Key, Histogram]
    restarted: bool = False
    """True: the server restarted in between; counted since then only."""


@dataclass(frozen=True)
class Latency:
    """One key's server-side count and percentiles over some servers."""

    key: Key
    count: int
    p50_s: float | None
    """``None``: no request counted (never a latency of 0)."""
    p99_s: float | None


@dataclass(frozen=True)
class ServerView:
    """Every server's delta, and the servers that could not be read."""

    deltas: Mapping[str, Delta] = field(default_factory=dict)
    """Server label -> what it served during the run."""
    unobserved: Mapping[str, str] = field(default_factory=dict)
    """Server label -> why its metrics are unknown."""

    def restarted(self) -> list[str]:
        return sorted(s for s, d in self.deltas.items() if d.restarted)

    def latency(self, key: Key, server: str | None = None) -> Latency:
        """``key`` on one server, or on all observed servers together."""
        if server is None:
            hist = merge(d.histograms.get(key) for d in self.deltas.values())
        else:
            hist = self.deltas[server].histograms.get(key)
        if hist is None or hist.count <= 0:
            return Latency(key, 0, None, None)
        untimed = key.verb in UNTIMED_VERBS
        return Latency(
            key,
            round(hist.count),
            None if untimed else hist.quantile(0.50),
            None if untimed else hist.quantile(0.99),
        )

    def summary(self, keys: Iterable[Key]) -> dict[str, object]:
        """Per key: all servers and each server; for the report."""
        out: dict[str, object] = {}
        for key in sorted(set(keys)):
            out[str(key)] = {
                "all servers": _row(self.latency(key)),
                **{
                    server: _row(self.latency(key, server))
                    for server in sorted(self.deltas)
                },
            }
        return out


def server_key(name: str) -> Key:
    """The metric labels a load request name lands on.

    ``GET single configmap`` -> ``GET configmaps resource``; ``LIST
    namespace configmaps rv=0`` -> ``LIST configmaps namespace`` (the
    variants share one series); ``CREATE`` -> ``POST``, ``UPDATE`` ->
    ``PUT``.

    Raises:
        ValueError: not ``<VERB> <scope> <resource>[ <variant>]`` with a
            known verb and scope.
    """
    words = name.split()
    if len(words) < 3 or words[0] not in VERBS or words[1] not in SCOPES:
        raise ValueError(f"not a load request name: {name!r}")
    resource = words[2] if words[2].endswith("s") else words[2] + "s"
    return Key(VERBS[words[0]], resource, SCOPES[words[1]])


def parse_scrape(text: str) -> Scrape:
    """The request-duration histograms of one ``/metrics`` page.

    Series of the same verb, resource and scope are summed over their
    other labels (component, version, dry_run); non-core groups and
    subresources are left out.

    Raises:
        ValueError: the page has no ``apiserver_request_duration_seconds``
            (not an API server's metrics).
    """
    buckets: dict[Key, dict[float, float]] = {}
    sums: dict[Key, float] = {}
    started: float | None = None
    seen = False
    for line in text.splitlines():
        if line.startswith(START_TIME):
            started = _sample_value(line, started)
            continue
        if not line.startswith(METRIC):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        name, raw_labels, raw = match.groups()
        labels = dict(_LABEL.findall(raw_labels or ""))
        seen = True
        if labels.get("group", "") or labels.get("subresource", ""):
            continue
        key = Key(
            labels.get("verb", ""),
            labels.get("resource", ""),
            labels.get("scope", ""),
        )
        value = float(raw)
        if name == f"{METRIC}_bucket" and "le" in labels:
            le = float(labels["le"])
            got = buckets.setdefault(key, {})
            got[le] = got.get(le, 0.0) + value
        elif name == f"{METRIC}_sum":
            sums[key] = sums.get(key, 0.0) + value
    if not seen:
        raise ValueError(f"no {METRIC}: not an API server's metrics")
    return Scrape(
        {k: Histogram(b, sums.get(k, 0.0)) for k, b in buckets.items()},
        started,
    )


def delta(before: Scrape, after: Scrape) -> Delta:
    """What a server served between ``before`` and ``after``.

    A server that restarted (a new start time, or any counter lower than
    before) counts from its restart: what it served before the restart
    is lost, and the delta says so.
    """
    restarted = (
        before.started_at is not None
        and after.started_at is not None
        and after.started_at != before.started_at
    ) or any(
        key in after.histograms and after.histograms[key].went_back(hist)
        for key, hist in before.histograms.items()
    )
    if restarted:
        return Delta(dict(after.histograms), restarted=True)
    empty = Histogram({})
    found = {
        key: hist.minus(before.histograms.get(key, empty))
        for key, hist in after.histograms.items()
    }
    return Delta({k: h for k, h in found.items() if h.count > 0})


def merge(histograms: Iterable[Histogram | None]) -> Histogram | None:
    """Several servers' histograms as one; only bucket bounds all of them
    have are kept (servers of different releases may differ)."""
    present = [h for h in histograms if h is not None]
    if not present:
        return None
    bounds = set(present[0].buckets)
    for hist in present[1:]:
        bounds &= set(hist.buckets)
    return Histogram(
        {le: sum(h.buckets[le] for h in present) for le in bounds},
        sum(h.total_s for h in present),
    )


def histogram_quantile(
    q: float, cumulative: Mapping[float, float]
) -> float | None:
    """Prometheus' ``histogram_quantile``: linear inside the bucket the
    rank falls in, 0 as the lowest bucket's lower bound, and the highest
    finite bound when the rank falls in ``+Inf``. ``None`` without
    observations or without a ``+Inf`` bucket (Prometheus: NaN).

    Raises:
        ValueError: ``q`` outside [0, 1].
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside [0, 1]")
    bounds = sorted(cumulative)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    counts, highest = [], 0.0
    for le in bounds:  # Prometheus fixes non-monotonic buckets this way
        highest = max(highest, cumulative[le])
        counts.append(highest)
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    index = next(i for i, n in enumerate(counts) if n >= rank)
    if index == len(bounds) - 1:
        return bounds[-2] if len(bounds) > 1 else None
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    lower = bounds[index - 1] if index else 0.0
    below = counts[index - 1] if index else 0.0
    upper, inside = bounds[index], counts[index] - below
    if inside <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / inside


def _row(found: Latency) -> dict[str, float | int | None]:
    return {"count": found.count, "p50_s": found.p50_s, "p99_s": found.p99_s}


def _sample_value(line: str, default: float | None) -> float | None:
    match = _LINE.match(line)
    if match is None:
        return default
    try:
        return float(match.group(3))
    except ValueError:
        return default
