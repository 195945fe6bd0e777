"""ARCH-08: controllers hold desired state.

A two-replica web Deployment is made ready; then one pod is deleted and a
watch times, from the delete call, until a replacement is Ready; then the
Deployment is scaled 2 -> 4 -> 1 and each step is timed until exactly the
wanted number of live pods (not terminating: their removal is the
kubelet's part) exists, all Ready. Each step is a part. A step that misses
its bound says which link of the chain broke (no ReplicaSet, ReplicaSets
not scaled, pods not created or not removed, pods not scheduled, pods
not Ready) and names the component behind it with the state of its
leader Lease (or the node Leases of the kubelets concerned).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gauntlet.checks.arch._chain import deployment_chain, why_not_within
from gauntlet.checks.context import CheckContext, violated
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import (
    KubeObject,
    Watcher,
    leader_lease_note,
    unique,
)

POLL_INTERVAL_S = 0.1
TIMEOUT_S = 30.0
"""Bound of each step: ready, replacement, scale up, scale down."""
APP = "held"
REPLICAS = 2
SCALE_STEPS = (4, 1)
STEP = "controllers hold desired state"
READY = f"{REPLICAS} replicas ready"
REPLACED = "deleted pod replaced"
CONTROLLER_MANAGER = "kube-controller-manager"


def check_controllers_hold_desired_state(ctx: CheckContext) -> None:
    """A deleted pod is replaced and scaling converges, each within 30 s.

    Raises:
        GuaranteeViolated: naming each step that did not converge, its
            last observed state and the link of the chain that broke.
    """
    name = unique(APP)
    with ctx.part(READY):
        deploy_replicated_web(ctx, name)
    if ctx.parts[-1].status != "checked":
        reason = f"deployment {name} never had {REPLICAS} Ready replicas"
        ctx.unobserved(REPLACED, reason)
        for label, _ in _scale_steps():
            ctx.unobserved(label, reason)
        ctx.conclude(STEP)
        return
    with ctx.part(REPLACED):
        check_deleted_pod_replaced(ctx, name)
    for label, replicas in _scale_steps():
        with ctx.part(label):
            scale_and_wait(ctx, name, label, replicas)
    ctx.conclude(STEP)


def deploy_replicated_web(ctx: CheckContext, name: str | None = None) -> str:
    """Create the Deployment, wait until its replicas are Ready; its name."""
    name = name or unique(APP)
    workloads.ensure_service_account(ctx.cluster.core(), ctx.namespace)
    body: KubeObject = workloads.web_deployment(
        name, ctx.images.workload, replicas=REPLICAS, spread=False
    )
    ctx.cluster.apps().create_namespaced_deployment(ctx.namespace, body)
    with _pods(ctx, name) as pods:
        _timed(ctx, pods, name, READY, REPLICAS, _live_ready(REPLICAS))
    return name


def check_deleted_pod_replaced(ctx: CheckContext, name: str) -> float:
    """Delete one Ready pod; time until a new pod makes up the count."""
    with _pods(ctx, name) as pods:
        old = set(_live(pods))
        if not old:
            raise violated(f"deployment {name}", "no Ready pod to delete")
        victim = sorted(old)[0]
        ctx.cluster.core().delete_namespaced_pod(victim, ctx.namespace)

        def replaced(latest: dict[str, KubeObject]) -> bool:
            ready = {n for n, p in latest.items() if _is_live_ready(p)}
            return len(ready) >= REPLICAS and bool(ready - old)

        took = _timed(
            ctx,
            pods,
            name,
            f"replacement for deleted {victim}",
            REPLICAS,
            replaced,
        )
    return ctx.measure(
        REPLACED,
        took,
        "s",
        TIMEOUT_S,
    )


def check_scaling_converges(ctx: CheckContext, name: str) -> None:
    """Scale through ``SCALE_STEPS``; time each until it converges."""
    for label, replicas in _scale_steps():
        scale_and_wait(ctx, name, label, replicas)


def scale_and_wait(
    ctx: CheckContext, name: str, label: str, replicas: int
) -> float:
    """Scale to ``replicas``; seconds until exactly that many are Ready."""
    with _pods(ctx, name) as pods:
        ctx.cluster.apps().patch_namespaced_deployment_scale(
            name, ctx.namespace, {"spec": {"replicas": replicas}}
        )
        took = _timed(
            ctx, pods, name, label, replicas, _exactly_ready(replicas)
        )
    return ctx.measure(label, took, "s", TIMEOUT_S)


# -- helpers ------------------------------------------------------------------


def _scale_steps() -> list[tuple[str, int]]:
    """``("scale 2 -> 4", 4), ("scale 4 -> 1", 1)``."""
    steps, current = [], REPLICAS
    for replicas in SCALE_STEPS:
        steps.append((f"scale {current} -> {replicas}", replicas))
        current = replicas
    return steps


def _pods(ctx: CheckContext, name: str) -> Watcher:
    return Watcher(
        ctx.cluster.core().list_namespaced_pod,
        ctx.namespace,
        label_selector=f"app={name}",
    )


def _is_live_ready(pod: KubeObject) -> bool:
    if pod.metadata.deletion_timestamp is not None:
        return False
    return any(
        c.type == "Ready" and c.status == "True"
        for c in (pod.status.conditions or [] if pod.status else [])
    )


def _live(pods: Watcher) -> list[str]:
    return [n for n, p in pods.latest().items() if _is_live_ready(p)]


def _live_ready(count: int) -> Callable[[dict[str, KubeObject]], bool]:
    def enough(latest: dict[str, KubeObject]) -> bool:
        return sum(1 for p in latest.values() if _is_live_ready(p)) >= count

    return enough


def _exactly_ready(count: int) -> Callable[[dict[str, KubeObject]], bool]:
    def converged(latest: dict[str, KubeObject]) -> bool:
        live = [p for p in latest.values() if not p.metadata.deletion_timestamp]
        return len(live) == count and all(_is_live_ready(p) for p in live)

    return converged


def _describe(latest: dict[str, KubeObject]) -> str:
    live = [p for p in latest.values() if not p.metadata.deletion_timestamp]
    ready = sum(1 for p in live if _is_live_ready(p))
    terminating = len(latest) - len(live)
    return f"{len(live)} pods, {ready} ready, {terminating} terminating"


def _timed(
    ctx: CheckContext,
    pods: Watcher,
    name: str,
    what: str,
    wanted: int,
    done: Callable[[dict[str, KubeObject]], bool],
) -> float:
    """Seconds until ``done`` holds for the watched pods.

    Raises:
        GuaranteeViolated: not within ``TIMEOUT_S``; names the step, the
            pods seen and the link of the chain that broke (else
            kube-controller-manager's leader lease).
    """
    start = time.monotonic()
    try:
        pods.wait(
            what,
            lambda: done(pods.latest()),
            TIMEOUT_S,
            POLL_INTERVAL_S,
            lambda: _describe(pods.latest()),
        )
    except GuaranteeTimeout as exc:
        chain = deployment_chain(ctx, name, wanted, "ready")
        why = why_not_within(ctx, chain, "ready", TIMEOUT_S)
        raise violated(
            f"deployment {name}",
            f"{what} not reached within {TIMEOUT_S:.0f}s "
            f"({exc.last_state}): "
            + (why or leader_lease_note(ctx.cluster, CONTROLLER_MANAGER)),
        ) from exc
    return time.monotonic() - start
