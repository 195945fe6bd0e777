"""ARCH-13: etcd is healthy on its disk and network.

Each member's Prometheus metrics are read on its own node (its
``--listen-metrics-urls``, else its client URL with the etcd client
certificate) at the start and the end of an observation window
(``KUBE_GAUNTLET_OBSERVE_S``, default 20 s). The parts:

members running
    every listed member runs and its metrics are scraped at both ends
    of the window; a member not running, or one whose metrics cannot be
    scraped, is a finding (never left out);
WAL fsync p99, backend commit p99
    from the histogram buckets' differences, interpolated as Prometheus'
    ``histogram_quantile`` does;
leadership
    no leader change in the window, and a leader at its end;
database size
    under the quota with margin;
alarms
    etcd's alarm list (NOSPACE, CORRUPT) is empty.

A metric part is judged per member. A member whose window holds no
sample of a metric (or whose etcd does not expose it) is unobserved for
that part, never a pass: the part is unobserved when no member was
observed, otherwise the members left out are measured and listed.

Bounds follow the upstream guidance and may be overridden:
``KUBE_GAUNTLET_ETCD_FSYNC_P99_MS`` (10), ``..._COMMIT_P99_MS`` (25),
``KUBE_GAUNTLET_ETCD_DB_QUOTA_PCT`` (80).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gauntlet.checks.arch import _metrics as m
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.errors import ClusterOperationFailed, Unobservable
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient, HostEtcdCtl, Member
from gauntlet.observe.host import Component, components

STEP = "etcd is healthy on its disk and network"
ENV_OBSERVE = "KUBE_GAUNTLET_OBSERVE_S"
DEFAULT_OBSERVE_S = 20.0
FSYNC = "etcd_disk_wal_fsync_duration_seconds"
COMMIT = "etcd_disk_backend_commit_duration_seconds"
LEADER_CHANGES = "etcd_server_leader_changes_seen_total"
HAS_LEADER = "etcd_server_has_leader"
DB_SIZE = "etcd_mvcc_db_total_size_in_bytes"
QUOTA = "etcd_server_quota_backend_bytes"
RUNNING = "members running"
WAL_FSYNC = "WAL fsync p99"
BACKEND_COMMIT = "backend commit p99"
LEADERSHIP = "leadership"
DB_SPACE = "database size"
ALARMS = "alarms"
METRIC_PARTS = (WAL_FSYNC, BACKEND_COMMIT, LEADERSHIP, DB_SPACE)
PARTS = (RUNNING, *METRIC_PARTS, ALARMS)

Measure = tuple[str, float, str, float | None]
"""A measurement to record: name, value, unit, bound."""


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


@dataclass(frozen=True)
class Reading:
    """One member's window as one metric part sees it."""

    part: str
    node: str
    findings: tuple[str, ...] = ()
    unobserved: str = ""
    """Why the member tells this part nothing (empty when observed)."""
    measures: tuple[Measure, ...] = ()


def observe_seconds() -> float:
    return float(os.environ.get(ENV_OBSERVE) or DEFAULT_OBSERVE_S)


def check_etcd_is_healthy(
    ctx: CheckContext, observe_s: float | None = None
) -> None:
    """Disk latency, leader stability, space and alarms of every member.

    Raises:
        GuaranteeViolated: naming the member (node), the metric, its value
            and bound, the raised alarm, or a member not running or not
            scraped.
        CheckSkipped: nothing could be observed (no node access, etcd
            external or hidden).
    """
    window = observe_seconds() if observe_s is None else observe_s
    bounds = Bounds.from_env()
    windows: dict[str, tuple[m.Samples, m.Samples]] | None = None
    with ctx.part(RUNNING) as part:
        windows = _observe(ctx, window, part)
    if windows is None:
        reason = f"no metrics: {ctx.parts[-1].reason}"
        for name in METRIC_PARTS:
            ctx.unobserved(name, reason)
    else:
        readings = [
            r
            for node, (first, last) in sorted(windows.items())
            for r in judge(node, first, last, bounds)
        ]
        for name in METRIC_PARTS:
            fold(ctx, name, [r for r in readings if r.part == name])
    with ctx.part(ALARMS) as part:
        for text in _alarms(ctx, ctx.etcd("alarm list")):
            part.finding(text)
    ctx.evidence(
        "etcd observation",
        {
            "window_s": window,
            "members": sorted(windows or {}),
            "bounds": vars(bounds),
        },
    )
    ctx.conclude(STEP)


def judge(
    node: str, first: m.Samples, last: m.Samples, bounds: Bounds
) -> list[Reading]:
    """Every metric part's reading of one member's window."""
    return [
        _latency(node, first, last, FSYNC, WAL_FSYNC, bounds.fsync_p99_ms),
        _latency(
            node, first, last, COMMIT, BACKEND_COMMIT, bounds.commit_p99_ms
        ),
        _leadership(node, first, last),
        _space(node, last, bounds.db_quota_pct),
    ]


def fold(ctx: CheckContext, name: str, readings: Sequence[Reading]) -> None:
    """Record one metric part from its members' readings: unobserved
    when no member was observed, else judged over those that were."""
    observed = [r for r in readings if not r.unobserved]
    missing = [r.unobserved for r in readings if r.unobserved]
    if not observed:
        reason = "; ".join(missing) or "no member's metrics were scraped"
        ctx.unobserved(name, reason)
        return
    with ctx.part(name) as part:
        for reading in observed:
            for measure in reading.measures:
                ctx.measure(*measure)
            for text in reading.findings:
                part.finding(text)
        ctx.measure(f"etcd members unobserved ({name})", len(missing), "")
        if missing:
            ctx.evidence(f"etcd members unobserved ({name})", missing)


def _latency(
    node: str,
    first: m.Samples,
    last: m.Samples,
    metric: str,
    part: str,
    bound: float,
) -> Reading:
    label = part.removesuffix(" p99")
    if not (m.buckets(first, metric) and m.buckets(last, metric)):
        return Reading(part, node, unobserved=f"{node}: {metric} not exposed")
    p99 = m.histogram_quantile(0.99, m.bucket_deltas(first, last, metric))
    if p99 is None:
        return Reading(
            part, node, unobserved=f"{node}: no {label} in the window"
        )
    ms = p99 * 1000
    measure: Measure = (f"etcd {label} p99 on {node}", ms, "ms", bound)
    over = f"etcd on {node}: {label} p99 {ms:.1f} ms over {bound:g} ms"
    return Reading(
        part, node, (over,) if ms > bound else (), measures=(measure,)
    )


def _leadership(node: str, first: m.Samples, last: m.Samples) -> Reading:
    missing = [n for n in (LEADER_CHANGES, HAS_LEADER) if not m.has(last, n)]
    if LEADER_CHANGES not in missing and not m.has(first, LEADER_CHANGES):
        missing.insert(0, LEADER_CHANGES)
    if missing:
        return Reading(
            LEADERSHIP,
            node,
            unobserved=f"{node}: {', '.join(missing)} not exposed",
        )
    changes = m.value(last, LEADER_CHANGES) - m.value(first, LEADER_CHANGES)
    findings = []
    if changes < 0:
        findings.append(f"etcd on {node} restarted during the observation")
    elif changes > 0:
        findings.append(f"etcd on {node} saw {changes:g} leader change(s)")
    if m.value(last, HAS_LEADER) != 1:
        findings.append(f"etcd on {node} has no leader")
    measure: Measure = (f"etcd leader changes seen by {node}", changes, "", 0)
    return Reading(LEADERSHIP, node, tuple(findings), measures=(measure,))


def _space(node: str, last: m.Samples, limit_pct: float) -> Reading:
    size, quota = m.value(last, DB_SIZE), m.value(last, QUOTA)
    if not (m.has(last, DB_SIZE) and quota > 0):
        return Reading(
            DB_SPACE,
            node,
            unobserved=f"{node}: {DB_SIZE} or a quota not exposed",
        )
    pct = 100 * size / quota
    measure: Measure = (f"etcd db size of quota on {node}", pct, "%", limit_pct)
    findings: tuple[str, ...] = ()
    if pct >= limit_pct:
        findings = (
            f"etcd on {node}: database {size / 2**20:.1f} MiB is "
            f"{pct:.0f}% of its {quota / 2**20:.1f} MiB quota "
            f"(limit {limit_pct:g}%)",
        )
    return Reading(DB_SPACE, node, findings, measures=(measure,))


def _observe(
    ctx: CheckContext, window: float, part: Part
) -> dict[str, tuple[m.Samples, m.Samples]]:
    """Scrape every member at both ends of the window; a member not
    running or not scraped is a finding of ``part``.

    Raises:
        CheckSkipped: no node access, or etcdctl on no node.
    """
    nodes = ctx.require_nodes("metrics are scraped on the nodes")
    etcd = ctx.etcd("member list")
    ctl = _host_ctl(etcd)
    try:
        listed = etcd.members()
    except ClusterOperationFailed as exc:
        # etcd that cannot list its members is not healthy; the running
        # processes are still scraped.
        part.finding(f"etcd member list not read: {exc}")
        listed = []
    names = {n.name for n in ctx.topology.control_planes}
    running = _etcd_on(
        nodes, sorted(names | {x.node for x in listed if x.node})
    )
    for text in not_running(listed, running):
        part.finding(text)
    afar = [x.label for x in listed if x.client_urls and x.node is None]
    ctx.measure("etcd members out of node access", len(afar), "members")
    if afar:
        ctx.evidence("etcd members out of node access", afar)
    urls = {node: _metrics_url(comp) for node, comp in running.items()}
    first = {n: _scrape(nodes, ctl, n, u) for n, u in sorted(urls.items())}
    time.sleep(window)
    last = {n: _scrape(nodes, ctl, n, u) for n, u in sorted(urls.items())}
    windows = {}
    for node in sorted(urls):
        before, after = first[node], last[node]
        if isinstance(before, str) or isinstance(after, str):
            error = before if isinstance(before, str) else after
            part.finding(f"etcd on {node}: metrics not scraped: {error}")
        else:
            windows[node] = (before, after)
    ctx.measure("etcd members scraped", len(windows), "members")
    return windows


def not_running(
    listed: Iterable[Member], running: dict[str, Component]
) -> list[str]:
    """Members that never started, or whose node runs no etcd."""
    found = []
    for member in listed:
        if not member.client_urls:
            found.append(f"etcd member {member.label}: never started")
        elif member.node is not None and member.node not in running:
            found.append(f"etcd on {member.node}: not running ({member.label})")
    return found


def _etcd_on(nodes: NodeAccess, names: Iterable[str]) -> dict[str, Component]:
    found = {}
    for name in names:
        for comp in components(nodes, name):
            if comp.name == "etcd":
                found[name] = comp
    return found


def _metrics_url(etcd: Component) -> str:
    for url in (etcd.flag("listen-metrics-urls") or "").split(","):
        if url.startswith("http"):
            return url.replace("//0.0.0.0:", "//127.0.0.1:").rstrip("/")
    client = (etcd.flag("advertise-client-urls") or "").split(",")[0]
    return client.rstrip("/")


def _scrape(
    nodes: NodeAccess, ctl: HostEtcdCtl, node: str, url: str
) -> m.Samples | str:
    """The member's samples, or why none came (a finding, not an error:
    a member that cannot be scraped is not a healthy member)."""
    argv = ["curl", "-sS", "-f", "--max-time", "5", f"{url}/metrics"]
    if url.startswith("https:"):
        # kubeadm and the lab keep the same client pair on every
        # control-plane node, at the same path.
        argv[1:1] = ["--cacert", ctl.cacert, "--cert", ctl.cert]
        argv[1:1] = ["--key", ctl.key]
    proc = nodes.run(node, argv)
    if proc.returncode != 0:
        lines = (proc.stderr or "").strip().splitlines()
        return f"{url}: {lines[-1] if lines else f'exit {proc.returncode}'}"
    samples = m.parse(proc.stdout)
    return samples or f"{url}: no Prometheus samples in the answer"


def _host_ctl(etcd: EtcdClient) -> HostEtcdCtl:
    try:
        return etcd.host_ctl()
    except Unobservable as exc:
        raise CheckSkipped(f"metrics scrapes: {exc}") from None


def _alarms(ctx: CheckContext, etcd: EtcdClient) -> list[str]:
    listed = etcd.json("alarm", "list").get("alarms") or []
    alarms = [
        f"{a.get('alarm', '?')} on member {int(a.get('memberID', 0)):x}"
        for a in listed
    ]
    ctx.evidence("etcd alarms", alarms or "none")
    ctx.measure("etcd alarms", len(alarms), "alarms", bound=0)
    return [f"etcd alarm raised: {a}" for a in alarms]
