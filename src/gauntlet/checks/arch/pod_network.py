"""ARCH-16: pods talk across nodes directly.

One serving pod is pinned to each of two workers (by ``nodeName``, so the
check needs no scheduler). Each fetches the other by pod IP on port 8080
and must get the other's name back; the server's access log must show the
caller's own pod IP as the peer, i.e. no NAT or proxy on the way.
"""

from __future__ import annotations

from dataclasses import dataclass

from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.observe.watch import KubeObject, unique

TIMEOUT_S = 60.0
"""Bound for the two pods to run."""
REQUEST_TIMEOUT_S = 3
PORT = 8080
STEP = "pods talk across nodes by pod IP"


@dataclass(frozen=True)
class Peer:
    """A serving pod on one worker."""

    pod: str
    node: str
    ip: str

    def __str__(self) -> str:
        return f"{self.pod} on {self.node} ({self.ip})"


def check_pods_talk_across_nodes(ctx: CheckContext) -> None:
    """A pod on one worker reaches a pod on another by IP, both ways.

    Raises:
        GuaranteeViolated: naming caller and callee (pod, node, IP) that
            could not talk, or the source address the callee saw instead
            of the caller's pod IP.
        CheckSkipped: fewer than two workers.
    """
    workers = sorted(n.name for n in ctx.topology.workers)
    if len(workers) < 2:
        raise CheckSkipped(
            f"needs two workers to cross nodes, found {len(workers)}"
        )
    a, b = _start_peers(ctx, workers[0], workers[1])
    problems = [p for p in (_call(ctx, a, b), _call(ctx, b, a)) if p]
    ctx.measure("failed cross-node calls", len(problems), "calls", 0)
    if problems:
        raise violated(STEP, "; ".join(problems))


def _start_peers(ctx: CheckContext, *nodes: str) -> list[Peer]:
    core, ns, tag = ctx.cluster.core(), ctx.namespace, unique("peer")
    workloads.ensure_service_account(core, ns)
    names = [f"{tag}-{node}" for node in nodes]
    for name, node in zip(names, nodes, strict=True):
        body: KubeObject = workloads.shell_pod(
            name, ctx.images.workload, node_name=node, command=["/bin/serve"]
        )
        core.create_namespaced_pod(ns, body)
    peers = []
    for name in names:
        pod: KubeObject = workloads.wait_pod_running(core, ns, name, TIMEOUT_S)
        peers.append(
            Peer(name, str(pod.spec.node_name), str(pod.status.pod_ip))
        )
    ctx.evidence("peers", [str(p) for p in peers])
    return peers


def _call(ctx: CheckContext, caller: Peer, callee: Peer) -> str | None:
    """A problem text, or None when ``caller`` reached ``callee`` directly."""
    core, ns = ctx.cluster.core(), ctx.namespace
    argv = ["http-get", callee.ip, str(PORT), "/", str(REQUEST_TIMEOUT_S)]
    result = exec_in_pod(core, ns, caller.pod, argv)
    if result.returncode != 0:
        why = result.stderr.strip() or "no answer"
        return (
            f"{caller} cannot reach {callee.pod} on {callee.node} at "
            f"{callee.ip}:{PORT} (exit {result.returncode}: {why})"
        )
    if result.stdout.strip() != callee.pod:
        return (
            f"{caller} asked {callee.ip}:{PORT} and got "
            f"{result.stdout.strip()!r}, not {callee.pod}"
        )
    log = core.read_namespaced_pod_log(callee.pod, ns)
    if f"{caller.ip}]:" not in log:
        return (
            f"{callee.pod} on {callee.node} did not see {caller.pod}'s pod IP "
            f"{caller.ip} as the peer (NAT or proxy in the path); its log: "
            f"{log.strip().splitlines()[-1:]}"
        )
    return None
