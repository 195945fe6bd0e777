"""ARCH-13: etcd is healthy on its disk and network.

Each member's Prometheus metrics are read on its own node (its
``--listen-metrics-urls``, else its client URL with the etcd client
certificate) at the start and the end of an observation window
(``KUBE_GAUNTLET_OBSERVE_S``, default 20 s). From the differences:
WAL fsync p99 and backend commit p99 (histogram buckets, interpolated as
Prometheus' ``histogram_quantile`` does), leader changes; at the end: the
database size against the quota, and etcd's alarm list.

Bounds follow the upstream guidance and may be overridden:
``KUBE_GAUNTLET_ETCD_FSYNC_P99_MS`` (10), ``..._COMMIT_P99_MS`` (25),
``KUBE_GAUNTLET_ETCD_DB_QUOTA_PCT`` (80).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from gauntlet.checks.arch import _metrics as m
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.errors import ClusterOperationFailed, Unobservable
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient, HostEtcdCtl, etcd_processes
from gauntlet.observe.host import Component

STEP = "etcd is healthy on its disk and network"
ENV_OBSERVE = "KUBE_GAUNTLET_OBSERVE_S"
DEFAULT_OBSERVE_S = 20.0
FSYNC = "etcd_disk_wal_fsync_duration_seconds"
COMMIT = "etcd_disk_backend_commit_duration_seconds"
LEADER_CHANGES = "etcd_server_leader_changes_seen_total"
HAS_LEADER = "etcd_server_has_leader"
DB_SIZE = "etcd_mvcc_db_total_size_in_bytes"
QUOTA = "etcd_server_quota_backend_bytes"


@dataclass(frozen=True)
class Bounds:
    """The limits one run judges against."""

    fsync_p99_ms: float
    commit_p99_ms: float
    db_quota_pct: float

    @classmethod
    def from_env(cls) -> Bounds:
        env = os.environ.get
        return cls(
            fsync_p99_ms=float(env("KUBE_GAUNTLET_ETCD_FSYNC_P99_MS") or 10),
            commit_p99_ms=float(env("KUBE_GAUNTLET_ETCD_COMMIT_P99_MS") or 25),
            db_quota_pct=float(env("KUBE_GAUNTLET_ETCD_DB_QUOTA_PCT") or 80),
        )


def observe_seconds() -> float:
    return float(os.environ.get(ENV_OBSERVE) or DEFAULT_OBSERVE_S)


def check_etcd_is_healthy(
    ctx: CheckContext, observe_s: float | None = None
) -> None:
    """Disk latency, leader stability, space and alarms of every member.

    Raises:
        GuaranteeViolated: naming the member (node), the metric, its value
            and bound, or the raised alarm.
        CheckSkipped: no node access, or etcd is external or hidden.
    """
    window = observe_seconds() if observe_s is None else observe_s
    bounds = Bounds.from_env()
    nodes = ctx.require_nodes(STEP)
    etcd = ctx.etcd(STEP)
    ctl = _host_ctl(etcd)
    members = etcd_processes(nodes, ctx.topology)
    urls = {node: _metrics_url(comp) for node, comp in members.items()}
    first = {n: _scrape(nodes, ctl, n, u) for n, u in sorted(urls.items())}
    time.sleep(window)
    last = {n: _scrape(nodes, ctl, n, u) for n, u in sorted(urls.items())}
    problems = []
    for node in sorted(urls):
        problems += _judge(ctx, node, first[node], last[node], bounds)
    problems += _alarms(ctx, etcd)
    ctx.evidence(
        "etcd observation",
        {"window_s": window, "members": sorted(urls), "bounds": vars(bounds)},
    )
    if problems:
        raise violated(STEP, "; ".join(problems))


def _metrics_url(etcd: Component) -> str:
    for url in (etcd.flag("listen-metrics-urls") or "").split(","):
        if url.startswith("http"):
            return url.replace("//0.0.0.0:", "//127.0.0.1:").rstrip("/")
    client = (etcd.flag("advertise-client-urls") or "").split(",")[0]
    return client.rstrip("/")


def _scrape(
    nodes: NodeAccess, ctl: HostEtcdCtl, node: str, url: str
) -> m.Samples:
    argv = ["curl", "-sS", "--max-time", "5", f"{url}/metrics"]
    if url.startswith("https:"):
        # kubeadm and the lab keep the same client pair on every
        # control-plane node, at the same path.
        argv[1:1] = ["--cacert", ctl.cacert, "--cert", ctl.cert]
        argv[1:1] = ["--key", ctl.key]
    proc = nodes.run(node, argv)
    if proc.returncode != 0:
        raise ClusterOperationFailed(
            "scrape", f"etcd metrics {url}", None, f"on {node}: {proc.stderr}"
        )
    return m.parse(proc.stdout)


def _judge(
    ctx: CheckContext,
    node: str,
    first: m.Samples,
    last: m.Samples,
    bounds: Bounds,
) -> list[str]:
    problems = []
    for name, label, bound in (
        (FSYNC, "WAL fsync", bounds.fsync_p99_ms),
        (COMMIT, "backend commit", bounds.commit_p99_ms),
    ):
        p99 = m.histogram_quantile(0.99, m.bucket_deltas(first, last, name))
        if p99 is None:
            continue
        ms = ctx.measure(f"etcd {label} p99 on {node}", p99 * 1000, "ms", bound)
        if ms > bound:
            problems.append(
                f"etcd on {node}: {label} p99 {ms:.1f} ms over {bound:g} ms"
            )
    changes = m.value(last, LEADER_CHANGES) - m.value(first, LEADER_CHANGES)
    ctx.measure(f"etcd leader changes seen by {node}", changes, "", bound=0)
    if changes < 0:
        problems.append(f"etcd on {node} restarted during the observation")
    elif changes > 0:
        problems.append(f"etcd on {node} saw {changes:g} leader change(s)")
    if m.value(last, HAS_LEADER) != 1:
        problems.append(f"etcd on {node} has no leader")
    size, quota = m.value(last, DB_SIZE), m.value(last, QUOTA)
    if quota > 0:
        pct = ctx.measure(
            f"etcd db size of quota on {node}",
            100 * size / quota,
            "%",
            bounds.db_quota_pct,
        )
        if pct >= bounds.db_quota_pct:
            problems.append(
                f"etcd on {node}: database {size / 2**20:.1f} MiB is "
                f"{pct:.0f}% of its {quota / 2**20:.1f} MiB quota "
                f"(limit {bounds.db_quota_pct:g}%)"
            )
    return problems


def _host_ctl(etcd: EtcdClient) -> HostEtcdCtl:
    try:
        return etcd.host_ctl()
    except Unobservable as exc:
        raise CheckSkipped(f"{STEP}: {exc}") from None


def _alarms(ctx: CheckContext, etcd: EtcdClient) -> list[str]:
    listed = etcd.json("alarm", "list").get("alarms") or []
    alarms = [
        f"{a.get('alarm', '?')} on member {int(a.get('memberID', 0)):x}"
        for a in listed
    ]
    ctx.evidence("etcd alarms", alarms or "none")
    ctx.measure("etcd alarms", len(alarms), "alarms", bound=0)
    return [f"etcd alarm raised: {a}" for a in alarms]
