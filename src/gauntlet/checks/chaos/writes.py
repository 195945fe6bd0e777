"""Writes through the API while a fault lasts, and what became of them.

A ``HistoryRecorder`` (``gauntlet.observe.history``) writes ConfigMaps
through chosen endpoints; ``write_stats`` sums a time window and
``lost_writes`` judges the history once the cluster is healthy again.

The recorder records every attempt, whatever the answer (acknowledged,
refused, timed out after its request timeout), so a window without any
write says the recorder did not run, not that the cluster refused:
``attempted`` makes such a window unobserved, never a pass.

Probes go into namespaces of the run's own, never ``default``: the test's
namespace, or the run's probe namespace (``kg-probes-<run id>``, recorded
in the fault ledger when the run starts, made by the first probe through
each API server, removed at the run's end or by ``gauntlet recover``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import ssl
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.chaos import timelines
from gauntlet.checks.chaos.split_brain import check_history
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster.discovery import ClusterTopology
from gauntlet.errors import ClusterOperationFailed
from gauntlet.observe import endpoints
from gauntlet.observe.endpoints import apiserver_endpoints
from gauntlet.observe.history import (
    HistoryRecorder,
    Operation,
    ensure_namespace,
)
from gauntlet.wellknown import APISERVER_PORT, MANAGED_BY

__all__ = [
    "PROBE_LABELS",
    "PROBE_NAMESPACE",
    "WriteStats",
    "accepts_write",
    "attempted",
    "delete_probes",
    "every_apiserver",
    "longest_gap_s",
    "lost_writes",
    "namespace_for",
    "no_write_lost",
    "probe_namespace",
    "recording",
    "refused",
    "run_probe_namespace",
    "writable",
    "write_stats",
]

PROBE_NAMESPACE = "kg-probes"
"""The run's probe namespace, by role: ``recording`` and ``writable`` put
probes given this name into ``probe_namespace(ctx)``. Write histories go
there (not into the test's namespace) so that their keys outlive it."""
PROBE_LABELS = MANAGED_BY


def run_probe_namespace(run_id: str) -> str:
    """``kg-probes-<run id>``: the run's probe namespace, a valid name."""
    slug = re.sub(r"[^a-z0-9-]", "-", run_id.lower()).strip("-")
    return f"{PROBE_NAMESPACE}-{slug}"[:63].rstrip("-")


def probe_namespace(ctx: CheckContext) -> str:
    """The run's probe namespace, else the test's own namespace."""
    return ctx.probe_namespace or ctx.namespace


def namespace_for(ctx: CheckContext, namespace: str | None) -> str:
    """Where ``recording`` writes: the test's namespace by default, the
    run's probe namespace for ``PROBE_NAMESPACE``, else as named."""
    if namespace == PROBE_NAMESPACE:
        return probe_namespace(ctx)
    return namespace or ctx.namespace


def every_apiserver(
    published: Mapping[str, str], topology: ClusterTopology
) -> list[str]:
    """Each API server's URL: as ``published`` in the ``kubernetes``
    EndpointSlices, else a control plane's InternalIP on the published
    port (as ``_support.apiserver_urls``): one with a store of its own is
    missing from the slices the majority writes."""
    found = dict(published)
    port = next(
        (u.rsplit(":", 1)[1] for u in found.values()), str(APISERVER_PORT)
    )
    for node in topology.control_planes:
        if node.name not in found and node.internal_ip:
            found[node.name] = f"https://{node.internal_ip}:{port}"
    return sorted(found.values())


@contextlib.contextmanager
def recording(
    ctx: CheckContext,
    endpoints: Mapping[str, str],
    namespace: str | None = None,
    **options: Any,
) -> Iterator[HistoryRecorder]:
    """A started ``HistoryRecorder``; stopped on exit, also on failure.

    The namespace (``ctx.namespace`` by default) is made to exist through
    every API server, so one with a store of its own takes the writes too.
    """
    recorder = HistoryRecorder(
        ctx.cluster,
        endpoints,
        namespace_for(ctx, namespace),
        prefix=f"kube-gauntlet-{secrets.token_hex(3)}",
        namespace_labels=PROBE_LABELS,
        **options,
    )
    published = apiserver_endpoints(ctx.cluster)
    recorder.setup(through=every_apiserver(published, ctx.topology))
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()
        timelines.write_history(ctx.timeline, recorder.ops)


def lost_writes(recorder: HistoryRecorder) -> list[str]:
    """Read every probe back once the cluster is healthy again and check
    the history: acknowledged writes lost, stale reads, rewinds."""
    recorder.final_reads()
    return check_history(recorder.ops)


def no_write_lost(ops: Sequence[Operation], lost: list[str]) -> list[str]:
    """``lost`` (from ``lost_writes``), once some write was acknowledged.

    Raises:
        CheckSkipped: no write was acknowledged, so none could be lost.
    """
    if not any(op.kind == "write" and op.result == "ok" for op in ops):
        raise CheckSkipped("no write was acknowledged: none could be lost")
    return lost


def delete_probes(ctx: CheckContext, recorder: HistoryRecorder) -> None:
    """Delete a recorder's ConfigMaps (after its final reads): probes in
    the run's probe namespace outlive the check's namespace."""
    core = ctx.cluster.core()
    for key in recorder.keys:
        try:
            core.delete_namespaced_config_map(key, recorder.namespace)
        except (client.ApiException, urllib3.exceptions.HTTPError):
            continue  # best effort: a leftover probe ConfigMap is harmless


@dataclass(frozen=True)
class WriteStats:
    """Writes in a time window: how many worked and how fast."""

    total: int
    ok: int
    latency_p50_s: float | None
    """None without an acknowledged write (no sample)."""
    latency_p99_s: float | None
    max_gap_s: float | None
    """Longest time between two successful writes (the outage window);
    None when no write was attempted: nothing measured, not 0 s."""

    @property
    def failed(self) -> int:
        return self.total - self.ok


def attempted(stats: WriteStats, during: str) -> WriteStats:
    """``stats``, when the window holds at least one write.

    Raises:
        CheckSkipped: no write began ``during`` the window: the recorder
            did not run, so the window proves nothing either way.
    """
    if not stats.total:
        raise CheckSkipped(
            f"no write was recorded {during}: the recorder did not run"
        )
    return stats


def longest_gap_s(stats: WriteStats, during: str) -> float:
    """The outage window of ``stats``.

    Raises:
        CheckSkipped: no write began ``during`` the window (``attempted``):
            an outage nobody tried to write through is not 0 s.
    """
    gap = attempted(stats, during).max_gap_s
    if gap is None:  # only without writes; kept for the type checker
        raise CheckSkipped(f"no write gap measured {during}")
    return gap


def write_stats(
    ops: Sequence[Operation],
    start: float = 0.0,
    end: float = float("inf"),
    endpoint: str | None = None,
) -> WriteStats:
    """Stats of the writes that began in ``[start, end]``."""
    writes = sorted(
        (
            op
            for op in ops
            if op.kind == "write"
            and start <= op.start <= end
            and (endpoint is None or op.endpoint == endpoint)
        ),
        key=lambda op: op.start,
    )
    ok = [op for op in writes if op.result == "ok"]
    latencies = sorted(op.end - op.start for op in ok)
    gap = None
    if writes:
        ends = [start, *sorted(op.end for op in ok)]
        ends.append(min(end, max(op.end for op in writes)))
        gap = max(b - a for a, b in zip(ends, ends[1:], strict=False))
    return WriteStats(
        total=len(writes),
        ok=len(ok),
        latency_p50_s=statistics.median(latencies) if latencies else None,
        latency_p99_s=_p99(latencies),
        max_gap_s=gap,
    )


def _p99(sorted_values: Sequence[float]) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(0.99 * len(sorted_values)))
    return sorted_values[index]


def writable(ctx: CheckContext, endpoint: str, timeout_s: float = 5.0) -> bool:
    """A ConfigMap create and delete through ``endpoint`` (raises on any
    failure), in the run's probe namespace, made there first if needed:
    writability, not namespaces."""
    api = endpoints.endpoint_client(ctx.cluster, endpoint)
    core = client.CoreV1Api(api)
    namespace = probe_namespace(ctx)
    name = f"kube-gauntlet-health-{secrets.token_hex(3)}"
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
    try:
        ensure_namespace(core, namespace, PROBE_LABELS, timeout_s)
        core.create_namespaced_config_map(
            namespace, body, _request_timeout=timeout_s
        )
        core.delete_namespaced_config_map(
            name, namespace, _request_timeout=timeout_s
        )
    finally:
        api.close()  # type: ignore[no-untyped-call]
    return True


def accepts_write(
    ctx: CheckContext, endpoint: str, timeout_s: float = 5.0
) -> bool:
    """Whether a write through ``endpoint`` goes through: ``False`` when
    the cluster refused it or did not answer in time (``refused``).

    Raises:
        ClusterOperationFailed: the write failed for another reason
            (credentials, RBAC, a bad request, an untrusted certificate),
            which says nothing about writability.
    """
    try:
        return writable(ctx, endpoint, timeout_s)
    except (ApiException, urllib3.exceptions.HTTPError) as exc:
        if refused(exc):
            return False
        raise ClusterOperationFailed(
            "create",
            f"a ConfigMap through {endpoint}",
            PROBE_NAMESPACE,
            _describe(exc),
        ) from exc


def refused(exc: BaseException) -> bool:
    """Whether a failed request was refused by the cluster: an answer
    of 5xx, 408 or 429, a connection refused, reset, cut during the TLS
    handshake (a balancer without backends) or timed out. Anything else
    (401, 403, 404, 422, a name that does not resolve, a certificate
    that is not trusted) is the client's problem, not an answer."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        return status >= 500 or status in (408, 429)
    reason = (
        exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    )
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return False
    if isinstance(reason, urllib3.exceptions.SSLError):
        cause = reason.args[0] if reason.args else None
        return isinstance(
            cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)
        )
    return isinstance(
        reason,
        (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError),
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason:
        exc = exc.reason
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:160]
