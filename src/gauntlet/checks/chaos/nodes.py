"""RES-01, RES-02 and PART-03: a worker that loses its kubelet or masters.

Node state is watched (list, then watch from the resourceVersion), so the
NotReady and Ready times are when the API published the change, not when
a poll happened to look.
"""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

import yaml

from gauntlet import progress
from gauntlet.checks.chaos import _support, web
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.errors import ClusterOperationFailed, NodeAccessError
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Watcher

__all__ = [
    "NOT_READY_BOUND_S",
    "RESTART_BOUND_S",
    "check_kubelet_crash",
    "check_kubelet_stop",
    "check_worker_partition",
]

NODE_MONITOR_GRACE_S = 50.0
"""kube-controller-manager's default --node-monitor-grace-period."""
NOT_READY_BOUND_S = NODE_MONITOR_GRACE_S + 15.0
NOT_READY_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 90.0
TAINT_TIMEOUT_S = 30.0
UNREACHABLE = "node.kubernetes.io/unreachable"
RESTART_BOUND_S = 15.0
"""kubeadm's kubelet.service restarts after ``RestartSec=10``; a margin."""
SETTLE_S = 20.0
"""How long the node is watched after its new kubelet started."""
PROCESS_POLL_S = 0.25
CUT_OFF_HOLD_S = 20.0
"""How long a NotReady worker stays cut off while its pods are watched."""
HOLD_POLL_S = 2.0
SERVER_PROCESS = "httpd"
STS = f"db-{secrets.token_hex(2)}"
"""The StatefulSet; unique, since pod names are read back as hostnames."""


def _ready(node: Any) -> str:
    for cond in node.status.conditions or []:
        if cond.type == "Ready":
            return str(cond.status)
    return "missing"


def _tainted(node: Any) -> bool:
    return any(t.key == UNREACHABLE for t in node.spec.taints or [])


def _worker(ctx: CheckContext, placed: dict[str, str]) -> str:
    workers = sorted(n.name for n in ctx.topology.workers)
    if len(workers) < 2:
        raise CheckSkipped(f"{len(workers)} workers: need 2 to move work")
    hosting = sorted(set(placed.values()) & set(workers))
    if not hosting:
        raise CheckSkipped("no workload pod landed on a worker")
    return hosting[-1]


def _servers(
    access: NodeAccess, node: str, pods: Iterable[str]
) -> dict[str, int]:
    """Pod name -> PID of its server process, for ``pods`` on ``node``.

    A container's ``/etc/hostname`` is its pod's name, so this reads the
    host's truth without asking the API (which may be cut off); the same
    PID later means the container ran all along.
    """
    script = (
        f"for p in $(pgrep -x {SERVER_PROCESS}); do "
        'echo "$p $(cat /proc/$p/root/etc/hostname 2>/dev/null)"; done'
    )
    wanted = set(pods)
    found = {}
    for line in access.run(node, ["sh", "-c", script]).stdout.splitlines():
        pid, _, name = line.partition(" ")
        if name in wanted and pid.isdigit():
            found[name] = int(pid)
    return dict(sorted(found.items()))


def _serving(access: NodeAccess, node: str, pods: Iterable[str]) -> list[str]:
    """Which of ``pods`` have a server process running on ``node``."""
    return list(_servers(access, node, pods))


def _since(watcher: Watcher, node: str, start: float, test: Any) -> float:
    seen = watcher.wait(
        f"node {node} change",
        lambda: next(
            (s for s in watcher.history(node) if s.at >= start and test(s.obj)),
            None,
        ),
        NOT_READY_TIMEOUT_S,
        0.2,
        lambda: f"Ready={_ready(watcher.latest()[node])}",
    )
    return float(seen.at - start)


def check_kubelet_stop(ctx: CheckContext, ledger: FaultLedger) -> None:
    """RES-01: a worker whose kubelet stops goes NotReady, is tainted
    unreachable, gets no new pod and keeps its containers; after the
    kubelet starts again it is Ready and no pod restarted.

    Raises:
        GuaranteeViolated: naming the node and the step that failed.
        CheckSkipped: fewer than 2 workers or no node access.
    """
    access = ctx.require_nodes("stopping a kubelet")
    core = ctx.cluster.core()
    placed = web.deploy_web(ctx)
    worker = _worker(ctx, placed)
    pods = web.pod_snapshot(ctx, "web")
    servers = _servers(access, worker, placed)
    if not servers:
        raise CheckSkipped(f"cannot see the pods' processes on {worker}")
    with Watcher(core.list_node) as watcher:
        stopped = time.time()
        _support.inject(
            ledger,
            f"stop kubelet on {worker}",
            kinds.start_component(access, worker, "kubelet"),
            lambda: access.stop(worker, "kubelet"),
        )
        not_ready = _since(
            watcher, worker, stopped, lambda n: _ready(n) != "True"
        )
        tainted = _since(watcher, worker, stopped, _tainted)
        new_pod_on = _place_new_pod(ctx)
        started = time.time()
        # Through the pod backend this waits for the host to end the
        # outage itself: the exec path runs through the stopped kubelet.
        access.start(worker, "kubelet")
        ready = _since(watcher, worker, started, lambda n: _ready(n) == "True")
    kept = _servers(access, worker, placed)
    _support.restore(ledger)
    after = web.pod_snapshot(ctx, "web")
    ctx.measure(
        "seconds to NotReady after the kubelet stops",
        not_ready,
        "s",
        NOT_READY_BOUND_S,
    )
    ctx.measure("seconds to the unreachable taint", tainted, "s")
    ctx.measure("seconds to Ready after the kubelet start", ready, "s")
    problems = []
    if not_ready > NOT_READY_BOUND_S:
        problems.append(f"{worker} went NotReady only after {not_ready:.0f}s")
    if new_pod_on == worker:
        problems.append(f"a new pod was scheduled onto NotReady {worker}")
    if kept != servers:
        problems.append(
            f"containers on {worker} did not run through the outage "
            f"(server PIDs {servers} -> {kept})"
        )
    if after != pods:
        problems.append(f"pods changed: {pods} -> {after}")
    if problems:
        raise violated(f"kubelet stopped on {worker}", "; ".join(problems))


def check_kubelet_crash(ctx: CheckContext, ledger: FaultLedger) -> None:
    """RES-02: a SIGKILLed kubelet is back (a new process) within the
    restart delay; the node never leaves Ready and no pod restarts.

    Raises:
        GuaranteeViolated: naming the node and what did not hold.
        CheckSkipped: fewer than 2 workers, no node access, or no kubelet
            process visible on the node.
    """
    access = ctx.require_nodes("killing a kubelet")
    placed = web.deploy_web(ctx)
    worker = _worker(ctx, placed)
    pods = web.pod_snapshot(ctx, "web")
    before = _kubelet_pids(access, worker)
    if not before:
        raise CheckSkipped(f"no kubelet process is visible on {worker}")
    with Watcher(ctx.cluster.core().list_node) as watcher:
        killed = time.time()
        _support.inject(
            ledger,
            f"SIGKILL kubelet on {worker}",
            kinds.start_component(access, worker, "kubelet"),
            lambda: access.kill(worker, "kubelet", signal.SIGKILL),
        )
        back = _new_kubelet(access, worker, before, RESTART_BOUND_S + SETTLE_S)
        time.sleep(SETTLE_S)
        left_ready = [
            s
            for s in watcher.history(worker)
            if s.at >= killed and _ready(s.obj) != "True"
        ]
    _support.restore(ledger)
    after = web.pod_snapshot(ctx, "web")
    if back is not None:
        ctx.measure(
            "seconds until a new kubelet runs", back, "s", RESTART_BOUND_S
        )
    ctx.measure("node status changes away from Ready", len(left_ready), "", 0)
    problems = []
    if back is None or back > RESTART_BOUND_S:
        when = "never" if back is None else f"only after {back:.1f}s"
        problems.append(
            f"no new kubelet process within {RESTART_BOUND_S:.0f}s ({when}): "
            "its supervisor (systemd unit) does not restart it"
        )
    if left_ready:
        problems.append(
            f"{worker} went Ready={_ready(left_ready[0].obj)} "
            f"{left_ready[0].at - killed:.1f}s after the kill"
        )
    if after != pods:
        problems.append(f"pods changed: {pods} -> {after}")
    if problems:
        raise violated(f"kubelet killed on {worker}", "; ".join(problems))


def _kubelet_pids(access: NodeAccess, node: str) -> set[int]:
    return {p.pid for p in access.processes(node) if p.comm == "kubelet"}


def _new_kubelet(
    access: NodeAccess, node: str, old: set[int], timeout_s: float
) -> float | None:
    """Seconds until a kubelet other than ``old`` runs (None: never).

    Node access may itself be down meanwhile (the pod backend execs
    through this very kubelet): such a poll counts as "not yet".
    """
    start = time.time()
    while time.time() - start < timeout_s:
        try:
            if _kubelet_pids(access, node) - old:
                return time.time() - start
        except (NodeAccessError, ClusterOperationFailed):
            pass
        time.sleep(PROCESS_POLL_S)
    return None


def check_worker_partition(ctx: CheckContext, ledger: FaultLedger) -> None:
    """PART-03: a worker cut off from the control plane goes NotReady and
    keeps its containers; after the heal it is Ready and no StatefulSet
    pod runs twice.

    Raises:
        GuaranteeViolated: naming the node and the evidence.
        CheckSkipped: fewer than 2 workers or no node access.
    """
    access = ctx.require_nodes("partitioning a worker")
    core = ctx.cluster.core()
    placed = _stateful_set(ctx)
    worker = _worker(ctx, placed)
    pods = web.pod_snapshot(ctx, STS)
    workers = sorted(n.name for n in ctx.topology.workers)
    servers = _servers(access, worker, placed)
    if not servers:
        raise CheckSkipped(f"cannot see the pods' processes on {worker}")
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
        not_ready = _since(watcher, worker, cut, lambda n: _ready(n) != "True")
        kept, twice = _hold_cut_off(access, worker, workers, servers)
        healed = time.time()
        access.heal(worker)
        ready = _since(watcher, worker, healed, lambda n: _ready(n) == "True")
    _support.restore(ledger)
    after = web.pod_snapshot_synced(ctx, STS, pods)
    everywhere = [p for w in workers for p in _serving(access, w, placed)]
    ctx.measure("seconds to NotReady when cut off", not_ready, "s")
    ctx.measure("seconds to Ready after the heal", ready, "s")
    twice |= {p for p in everywhere if everywhere.count(p) > 1}
    ctx.measure("StatefulSet pods running twice", len(twice), "")
    problems = []
    if kept != servers:
        problems.append(
            f"{worker} kept {sorted(kept)} of pods {sorted(servers)} running "
            f"(same process) through {CUT_OFF_HOLD_S:g}s cut off and NotReady"
        )
    if after != pods:
        problems.append(f"StatefulSet pods changed: {pods} -> {after}")
    if twice:
        problems.append(
            f"running on two workers at once: {', '.join(sorted(twice))}"
        )
    if problems:
        raise violated(f"{worker} cut off", "; ".join(problems))


def _hold_cut_off(
    access: NodeAccess, worker: str, workers: list[str], servers: dict[str, int]
) -> tuple[dict[str, int], set[str]]:
    """Keep ``worker`` cut off and NotReady for ``CUT_OFF_HOLD_S``, looking
    at every worker's processes: which pods kept their server process on
    ``worker`` all along, and which also run on another worker (what a
    force-deleted pod's replacement does while the original still runs)."""
    kept = dict(servers)
    twice: set[str] = set()
    others = [w for w in workers if w != worker]
    deadline = time.monotonic() + CUT_OFF_HOLD_S
    with progress.step(f"Holding {worker} cut off for {CUT_OFF_HOLD_S:g}s"):
        while True:
            here = _servers(access, worker, servers)
            kept = {p: pid for p, pid in kept.items() if here.get(p) == pid}
            for other in others:
                twice |= set(here) & set(_servers(access, other, servers))
            if time.monotonic() >= deadline:
                return kept, twice
            time.sleep(HOLD_POLL_S)


def _place_new_pod(ctx: CheckContext) -> str:
    core = ctx.cluster.core()
    manifest = workloads.shell_pod(
        "after-fault", ctx.images.workload, labels={"app": "after-fault"}
    )
    core.create_namespaced_pod(ctx.namespace, manifest)  # type: ignore[arg-type]
    placed = workloads.wait_all_scheduled(
        core, ctx.namespace, "after-fault", 1, 60.0
    )
    return next(iter(placed.values()))


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
