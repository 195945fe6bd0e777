"""Writes through the API while a fault lasts, and what became of them.

A ``HistoryRecorder`` (``gauntlet.observe.history``) writes ConfigMaps
through chosen endpoints; ``write_stats`` sums a time window and
``lost_writes`` judges the history once the cluster is healthy again.
"""

from __future__ import annotations

import contextlib
import secrets
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client

from gauntlet.checks.chaos.split_brain import check_history
from gauntlet.checks.context import CheckContext
from gauntlet.observe import endpoints
from gauntlet.observe.history import HistoryRecorder, Operation

__all__ = [
    "PROBE_NAMESPACE",
    "WriteStats",
    "delete_probes",
    "lost_writes",
    "recording",
    "writable",
    "write_stats",
]

PROBE_NAMESPACE = "default"
"""Where write probes go: every API server bootstraps it, whatever store
it talks to (a split-brain API server answers there too)."""


@contextlib.contextmanager
def recording(
    ctx: CheckContext,
    endpoints: Mapping[str, str],
    namespace: str | None = None,
    **options: Any,
) -> Iterator[HistoryRecorder]:
    """A started ``HistoryRecorder``; stopped on exit, also on failure."""
    recorder = HistoryRecorder(
        ctx.cluster,
        endpoints,
        namespace or ctx.namespace,
        prefix=f"kube-gauntlet-{secrets.token_hex(3)}",
        **options,
    )
    recorder.setup()
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()


def lost_writes(recorder: HistoryRecorder) -> list[str]:
    """Read every probe back once the cluster is healthy again and check
    the history: acknowledged writes lost, stale reads, rewinds."""
    recorder.final_reads()
    return check_history(recorder.ops, None)


def delete_probes(ctx: CheckContext, recorder: HistoryRecorder) -> None:
    """Delete a recorder's ConfigMaps (after its final reads): probes in
    ``PROBE_NAMESPACE`` outlive the check's namespace."""
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
    latency_p50_s: float
    latency_p99_s: float
    max_gap_s: float
    """Longest time between two successful writes (the outage window)."""

    @property
    def failed(self) -> int:
        return self.total - self.ok


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
    ends = [start, *sorted(op.end for op in ok)]
    if writes:
        ends.append(min(end, max(op.end for op in writes)))
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    return WriteStats(
        total=len(writes),
        ok=len(ok),
        latency_p50_s=statistics.median(latencies) if latencies else 0.0,
        latency_p99_s=_p99(latencies),
        max_gap_s=max(gaps, default=0.0),
    )


def _p99(sorted_values: Sequence[float]) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(0.99 * len(sorted_values)))
    return sorted_values[index]


def writable(ctx: CheckContext, endpoint: str, timeout_s: float = 5.0) -> bool:
    """A ConfigMap create and delete through ``endpoint`` (raises on any
    failure), in ``PROBE_NAMESPACE``: writability, not namespaces."""
    api = endpoints.endpoint_client(ctx.cluster, endpoint)
    core = client.CoreV1Api(api)
    name = f"kube-gauntlet-health-{secrets.token_hex(3)}"
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
    try:
        core.create_namespaced_config_map(
            PROBE_NAMESPACE, body, _request_timeout=timeout_s
        )
        core.delete_namespaced_config_map(
            name, PROBE_NAMESPACE, _request_timeout=timeout_s
        )
    finally:
        api.close()  # type: ignore[no-untyped-call]
    return True
