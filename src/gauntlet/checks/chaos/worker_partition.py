"""PART-03: a worker cut off from the control plane keeps its pods.

The worker is partitioned from every control plane and from the API
address its kubelet uses (in HA a balancer) for ``CUT_OFF_S``, then its
node heals itself: the partition cuts the pod backend's own path to it.
Meanwhile the worker notes its own server processes (read back after
the heal) and the runner watches the other workers'. A StatefulSet pod
running twice shows as a changed pod (its replacement) and as the same
pod's original server process still running on the cut-off worker after
its replacement was seen on another.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlparse

import yaml

from gauntlet import progress
from gauntlet.checks.chaos import _support, web, workers
from gauntlet.checks.chaos.nodes import NOT_READY_BOUND_S
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import workloads
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Watcher

__all__ = [
    "CUT_OFF_HOLD_S",
    "CUT_OFF_S",
    "check_worker_partition",
    "cut_off_servers",
]

READY_TIMEOUT_S = 90.0
CUT_OFF_HOLD_S = 20.0
"""How long a NotReady worker stays cut off while its pods are watched
(at least, when it goes NotReady within RES-01's bound)."""
CUT_OFF_S = NOT_READY_BOUND_S + CUT_OFF_HOLD_S
"""How long the worker is cut off; then its node heals itself."""
HOLD_POLL_S = 2.0
LOG_AFTER_S = 10.0
"""The worker keeps noting its processes this long past the planned heal."""
STS = f"db-{secrets.token_hex(2)}"
"""The StatefulSet; unique, since pod names are read back as hostnames."""


def check_worker_partition(ctx: CheckContext, ledger: FaultLedger) -> None:
    """PART-03: a worker cut off from the control plane goes NotReady and
    keeps its containers; after the heal it is Ready and no StatefulSet
    pod runs twice.

    The worker is cut off for ``CUT_OFF_S`` and its node heals itself;
    Ready is timed from the heal the node recorded.

    Parts: NotReady when cut off, containers keep running, no StatefulSet
    pod runs twice, Ready after the heal.

    Raises:
        GuaranteeViolated: naming the node and the evidence.
        CheckSkipped: fewer than 2 workers or no node access.
    """
    access = ctx.require_nodes("partitioning a worker")
    core = ctx.cluster.core()
    placed = _stateful_set(ctx)
    worker = workers.pick(ctx, placed)
    pods = web.pod_snapshot(ctx, STS)
    names = sorted(n.name for n in ctx.topology.workers)
    servers = workers.servers(access, worker, placed)
    peers = [n.name for n in ctx.topology.control_planes]
    peers += _api_addresses(access, worker)
    noted = workers.log_servers(
        access, worker, CUT_OFF_S + LOG_AFTER_S, HOLD_POLL_S
    )
    with Watcher(core.list_node) as watcher:
        cut = time.time()
        outage = _support.partition_for(
            ledger, access, worker, peers, CUT_OFF_S
        )
        not_ready = _support.attempt(
            lambda: workers.since(
                watcher,
                worker,
                cut,
                lambda n: workers.ready(n) != "True",
                "NotReady",
            )
        )
        others = [w for w in names if w != worker]
        elsewhere = _watch_others(access, worker, others, servers, outage)
        ended = _support.outage_over(ctx, ledger, access, outage)
        ready = _support.attempt(
            lambda: workers.since(
                watcher,
                worker,
                ended.ended_at,
                lambda n: workers.ready(n) == "True",
                "Ready after the heal",
            )
        )
    samples = workers.logged_servers(access, worker, noted, servers)
    kept, twice = cut_off_servers(
        servers,
        samples,
        elsewhere,
        (ended.applied_at, ended.ended_at),
        ended.error_s,
    )
    _support.restore(ledger)
    after = web.pod_snapshot_synced(ctx, STS, pods)
    everywhere = [p for w in names for p in workers.serving(access, w, placed)]
    twice |= {p for p in everywhere if everywhere.count(p) > 1}
    with ctx.part("NotReady when cut off"):
        seconds = _support.settle(not_ready)
        ctx.measure("seconds to NotReady when cut off", seconds, "s", since=cut)
    with ctx.part("containers keep running") as part:
        if not servers:
            raise CheckSkipped(f"cannot see the pods' processes on {worker}")
        if kept is None:
            raise CheckSkipped(
                f"{worker} noted none of its processes while cut off"
            )
        if kept != servers:
            part.finding(
                f"{worker} kept {sorted(kept)} of pods {sorted(servers)} "
                f"running (same process) through {CUT_OFF_S:g}s cut off"
            )
    with ctx.part("no StatefulSet pod runs twice") as part:
        ctx.measure("StatefulSet pods running twice", len(twice), "")
        if after != pods:
            part.finding(f"StatefulSet pods changed: {pods} -> {after}")
        if twice:
            part.finding(
                f"running on two workers at once: {', '.join(sorted(twice))}"
            )
    with ctx.part("Ready after the heal"):
        seconds = _support.settle(ready)
        ctx.measure(
            "seconds to Ready after the heal",
            seconds,
            "s",
            since=ended.ended_at,
        )
    ctx.conclude(f"{worker} cut off")


def _watch_others(
    access: NodeAccess,
    worker: str,
    others: list[str],
    pods: dict[str, int],
    cut: _support.Outage,
) -> list[workers.Sample]:
    """Until ``worker``'s node heals itself, note every ``HOLD_POLL_S``
    which of ``pods`` run on the other workers (what a force-deleted
    pod's replacement does while the original may still run)."""
    seen = []
    with progress.step(f"Holding {worker} cut off for {CUT_OFF_S:g}s"):
        while cut.left_s() > 0:
            found: dict[str, int] = {}
            for other in others:
                found |= workers.servers(access, other, pods)
            seen.append(workers.Sample(time.time(), found))
            time.sleep(min(HOLD_POLL_S, max(0.0, cut.left_s())))
    return seen


def cut_off_servers(
    servers: dict[str, int],
    on_worker: list[workers.Sample],
    elsewhere: list[workers.Sample],
    window: tuple[float, float],
    error_s: float,
) -> tuple[dict[str, int] | None, set[str]]:
    """Judge the cut-off worker's own samples taken in ``window`` (when
    the partition held, runner clock): the pods whose server kept its
    PID in every one (None: no sample), and the pods whose original
    server still ran there when (or after) a server of the same pod was
    seen on another worker: run twice at once."""
    start, end = window
    during = [s for s in on_worker if start <= s.at <= end]
    if not during:
        return None, set()
    kept = {
        pod: pid
        for pod, pid in servers.items()
        if all(s.servers.get(pod) == pid for s in during)
    }
    twice = {
        pod
        for other in elsewhere
        for pod in other.servers
        if any(
            s.at >= other.at - error_s and s.servers.get(pod) == servers[pod]
            for s in during
        )
    }
    return kept, twice


def _stateful_set(ctx: CheckContext) -> dict[str, str]:
    """A 2-replica StatefulSet, spread over the workers; pod -> node."""
    template = workloads.web_deployment(STS, ctx.images.workload, 2)
    spec = template["spec"]
    # Spread, but let a replacement land next to its sibling: with two
    # workers a required spread would hide a pod run twice.
    spec["template"]["spec"]["affinity"] = workloads.spread_affinity(
        spec["selector"]["matchLabels"], required=False
    )
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": STS, "labels": {"app": STS}},
        "spec": {
            "serviceName": STS,
            "replicas": 2,
            "podManagementPolicy": "Parallel",
            "selector": spec["selector"],
            "template": spec["template"],
        },
    }
    ctx.cluster.apps().create_namespaced_stateful_set(
        ctx.namespace,
        manifest,  # type: ignore[arg-type]
    )
    core = ctx.cluster.core()

    def ready() -> dict[str, str] | None:
        found: list[Any] = workloads.pods_of(core, ctx.namespace, STS)
        done = {
            str(p.metadata.name): str(p.spec.node_name)
            for p in found
            if p.status.phase == "Running"
            and any(c.ready for c in p.status.container_statuses or [])
        }
        return done if len(done) == 2 else None

    result: dict[str, str] = progress.wait_until(
        f"StatefulSet {STS} ready", ready, READY_TIMEOUT_S, 1.0, quiet=True
    )
    return result


def _api_addresses(access: NodeAccess, node: str) -> list[str]:
    """The API server addresses the node's kubelet talks to (its
    kubeconfig's server), to cut as well: in HA that is a balancer."""
    argv = access.argv(node, "kubelet")
    path = next(
        (a.split("=", 1)[1] for a in argv if a.startswith("--kubeconfig=")),
        None,
    )
    if path is None:
        return []
    config = yaml.safe_load(access.read_file(node, path)) or {}
    hosts = []
    for entry in config.get("clusters") or []:
        host = urlparse(str(entry["cluster"]["server"])).hostname
        if host:
            hosts.append(host)
    return hosts
