"""ARCH-16: pods talk across nodes directly.

The pod network (the CNI) runs on every node, so one serving pod is
pinned to each Ready node (by ``nodeName``, so the check needs no
scheduler; tolerating control-plane taints; an evenly spread sample
beyond ``KUBE_GAUNTLET_PATH_NODES``, the rest reported as unobserved by
name). The nodes form a ring, workers first, and each pod calls both
its neighbours by pod IP on port 8080 (``agnhost netexec``): it must get
the neighbour's name back, and the address the neighbour saw the call
come from (netexec's ``/clientip``) must be the caller's own pod IP, i.e.
no NAT or proxy on the way. With two workers this is
worker to worker, both ways. One part per calling node; a finding names
caller and callee (pod, node, IP).
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

from gauntlet.checks.arch._nodes import (
    path_node_limit,
    record_left_out,
    sample_nodes,
)
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.cluster.workloads import NAME_PATH, PEER_PATH, WEB_PORT
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import KubeObject, unique

TIMEOUT_S = 60.0
"""Bound for the serving pods to run."""
POLL_INTERVAL_S = 1.0
REQUEST_TIMEOUT_S = 3
PORT = WEB_PORT
STEP = "pods talk across nodes by pod IP"
PART = "pod network"


@dataclass(frozen=True)
class Peer:
    """A serving pod on one node."""

    pod: str
    node: str
    ip: str

    def __str__(self) -> str:
        return f"{self.pod} on {self.node} ({self.ip})"


def check_pods_talk_across_nodes(ctx: CheckContext) -> None:
    """A pod on each node reaches pods on other nodes by IP, both ways.

    Raises:
        GuaranteeViolated: naming caller and callee (pod, node, IP) that
            could not talk, or the source address the callee saw instead
            of the caller's pod IP.
        CheckSkipped: fewer than two workers, or no part observed.
    """
    workers = sorted(n.name for n in ctx.topology.workers)
    if len(workers) < 2:
        raise CheckSkipped(
            f"needs two workers to cross nodes, found {len(workers)}"
        )
    listed: KubeObject = ctx.cluster.core().list_node()
    sample = sample_nodes(listed.items, path_node_limit())
    record_left_out(ctx, PART, sample)
    nodes = ring_order(sample.chosen, workers)
    peers = _start_peers(ctx, nodes)
    failed = 0
    for i, node in enumerate(nodes):
        caller = peers.get(node)
        if caller is None:
            continue
        callees = [peers.get(n) for n in neighbours(nodes, i)]
        with ctx.part(f"{PART} from {node}") as part:
            reached = [c for c in callees if c is not None]
            if not reached:
                raise CheckSkipped("no neighbour's pod runs")
            for callee in reached:
                problem = _call(ctx, caller, callee)
                if problem:
                    part.finding(problem)
            failed += len(part.findings)
    ctx.measure("failed cross-node calls", failed, "calls", 0)
    ctx.conclude(STEP)


def ring_order(nodes: tuple[str, ...], workers: list[str]) -> list[str]:
    """Workers first (so the first two are neighbours), then the rest."""
    first = [n for n in workers if n in nodes]
    return first + [n for n in nodes if n not in first]


def neighbours(ring: list[str], i: int) -> list[str]:
    """The next and previous nodes on the ring (once each, not itself)."""
    found = []
    for step in (1, -1):
        other = ring[(i + step) % len(ring)]
        if other != ring[i] and other not in found:
            found.append(other)
    return found


def _start_peers(ctx: CheckContext, nodes: list[str]) -> dict[str, Peer]:
    """Start a serving pod per node; node -> peer for those running.

    A node whose pod does not run is recorded as unobserved.
    """
    core, ns, tag = ctx.cluster.core(), ctx.namespace, unique("peer")
    workloads.ensure_service_account(core, ns)
    names = {node: f"{tag}-{node}" for node in nodes}
    for node, name in names.items():
        body: KubeObject = workloads.shell_pod(
            name,
            ctx.images.workload,
            node_name=node,
            tolerate_all=True,
            command=workloads.web_command(),
        )
        core.create_namespaced_pod(ns, body)
    peers, deadline = {}, time.monotonic() + TIMEOUT_S
    for node, name in names.items():
        left = max(deadline - time.monotonic(), POLL_INTERVAL_S)
        try:
            pod: KubeObject = workloads.wait_pod_running(core, ns, name, left)
        except GuaranteeTimeout as exc:
            ctx.unobserved(
                f"{PART} from {node}",
                f"pod {name} not running within {TIMEOUT_S:.0f}s "
                f"({exc.last_state})",
            )
            continue
        peers[node] = Peer(
            name, str(pod.spec.node_name), str(pod.status.pod_ip)
        )
    ctx.evidence("peers", [str(p) for p in peers.values()])
    return peers


def _call(ctx: CheckContext, caller: Peer, callee: Peer) -> str | None:
    """A problem text, or None when ``caller`` reached ``callee`` directly."""
    core, ns = ctx.cluster.core(), ctx.namespace
    get = f"http_get {shlex.quote(callee.ip)} {PORT} {{}} {REQUEST_TIMEOUT_S}"
    script = (
        f"{workloads.HTTP_GET}\n{get.format(NAME_PATH)} && "
        f"{get.format(PEER_PATH)}"
    )
    result = exec_in_pod(core, ns, caller.pod, ["sh", "-c", script])
    if result.returncode != 0:
        why = result.stderr.strip() or "no answer"
        return (
            f"{caller} cannot reach {callee.pod} on {callee.node} at "
            f"{callee.ip}:{PORT} (exit {result.returncode}: {why})"
        )
    answers = result.stdout.strip().splitlines()
    name = answers[0].strip() if answers else ""
    if name != callee.pod:
        return (
            f"{caller} asked {callee.ip}:{PORT} and got {name!r}, "
            f"not {callee.pod}"
        )
    seen = answers[1].strip() if len(answers) > 1 else ""
    if peer_host(seen) != caller.ip:
        return (
            f"{callee.pod} on {callee.node} saw the call from {seen!r}, not "
            f"from {caller.pod}'s pod IP {caller.ip} (NAT or proxy in the "
            "path)"
        )
    return None


def peer_host(address: str) -> str:
    """The host of Go's ``ip:port`` or ``[ipv6]:port`` (netexec's
    ``/clientip``)."""
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return host.removeprefix("[").removesuffix("]")
