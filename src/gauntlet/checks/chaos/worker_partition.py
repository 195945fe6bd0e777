"""PART-03: a worker cut off from the control plane keeps its pods.

The worker is partitioned from every control plane and from the API
address its kubelet uses (in HA a balancer), held NotReady for
``CUT_OFF_HOLD_S`` while every worker's processes are watched, then
healed. A StatefulSet pod running twice shows as a changed pod (its
replacement) and as the same pod's server process on two workers.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlparse

import yaml

from gauntlet import progress
from gauntlet.checks.chaos import _support, web, workers
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import workloads
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Watcher

__all__ = ["CUT_OFF_HOLD_S", "check_worker_partition"]

READY_TIMEOUT_S = 90.0
CUT_OFF_HOLD_S = 20.0
"""How long a NotReady worker stays cut off while its pods are watched."""
HOLD_POLL_S = 2.0
STS = f"db-{secrets.token_hex(2)}"
"""The StatefulSet; unique, since pod names are read back as hostnames."""


def check_worker_partition(ctx: CheckContext, ledger: FaultLedger) -> None:
    """PART-03: a worker cut off from the control plane goes NotReady and
    keeps its containers; after the heal it is Ready and no StatefulSet
    pod runs twice.

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
    with Watcher(core.list_node) as watcher:
        cut = time.time()
        _support.inject(
            ledger,
            f"partition {worker} from {', '.join(peers)}",
            kinds.heal_partition(access, worker),
            lambda: access.partition(worker, peers),
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
        kept, twice = _hold_cut_off(access, worker, names, servers)
        healed = time.time()
        access.heal(worker)
        ready = _support.attempt(
            lambda: workers.since(
                watcher,
                worker,
                healed,
                lambda n: workers.ready(n) == "True",
                "Ready after the heal",
            )
        )
    _support.restore(ledger)
    after = web.pod_snapshot_synced(ctx, STS, pods)
    everywhere = [p for w in names for p in workers.serving(access, w, placed)]
    twice |= {p for p in everywhere if everywhere.count(p) > 1}
    with ctx.part("NotReady when cut off"):
        seconds = _support.settle(not_ready)
        ctx.measure("seconds to NotReady when cut off", seconds, "s")
    with ctx.part("containers keep running") as part:
        if not servers:
            raise CheckSkipped(f"cannot see the pods' processes on {worker}")
        if kept != servers:
            part.finding(
                f"{worker} kept {sorted(kept)} of pods {sorted(servers)} "
                f"running (same process) through {CUT_OFF_HOLD_S:g}s cut "
                "off and NotReady"
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
        ctx.measure("seconds to Ready after the heal", seconds, "s")
    ctx.conclude(f"{worker} cut off")


def _hold_cut_off(
    access: NodeAccess, worker: str, names: list[str], servers: dict[str, int]
) -> tuple[dict[str, int], set[str]]:
    """Keep ``worker`` cut off and NotReady for ``CUT_OFF_HOLD_S``, looking
    at every worker's processes: which pods kept their server process on
    ``worker`` all along, and which also run on another worker (what a
    force-deleted pod's replacement does while the original still runs)."""
    kept = dict(servers)
    twice: set[str] = set()
    others = [w for w in names if w != worker]
    deadline = time.monotonic() + CUT_OFF_HOLD_S
    with progress.step(f"Holding {worker} cut off for {CUT_OFF_HOLD_S:g}s"):
        while True:
            here = workers.servers(access, worker, servers)
            kept = {p: pid for p, pid in kept.items() if here.get(p) == pid}
            for other in others:
                twice |= set(here) & set(
                    workers.servers(access, other, servers)
                )
            if time.monotonic() >= deadline:
                return kept, twice
            time.sleep(HOLD_POLL_S)


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
