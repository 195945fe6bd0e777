"""ARCH-08: controllers hold desired state.

A two-replica web Deployment is made ready; then one pod is deleted and a
watch times, from the delete call, until a replacement is Ready; then the
Deployment is scaled 2 -> 4 -> 1 and each step is timed until exactly the
wanted number of live pods (not terminating: their removal is the
kubelet's part) exists, all Ready. A step that misses its bound names
kube-controller-manager with the state of its leader Lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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


def check_controllers_hold_desired_state(ctx: CheckContext) -> None:
    """A deleted pod is replaced and scaling converges, each within 30 s.

    Raises:
        GuaranteeViolated: naming the step that did not converge, its last
            observed state and kube-controller-manager's leader lease.
    """
    name = deploy_replicated_web(ctx)
    check_deleted_pod_replaced(ctx, name)
    check_scaling_converges(ctx, name)


def deploy_replicated_web(ctx: CheckContext) -> str:
    """Create the Deployment, wait until its replicas are Ready; its name."""
    name = unique(APP)
    workloads.ensure_service_account(ctx.cluster.core(), ctx.namespace)
    body: KubeObject = workloads.web_deployment(
        name, ctx.images.workload, replicas=REPLICAS, spread=False
    )
    ctx.cluster.apps().create_namespaced_deployment(ctx.namespace, body)
    with _pods(ctx, name) as pods:
        _timed(
            ctx, pods, name, f"{REPLICAS} replicas ready", _live_ready(REPLICAS)
        )
    return name


def check_deleted_pod_replaced(ctx: CheckContext, name: str) -> float:
    """Delete one Ready pod; time until a new pod makes up the count."""
    with _pods(ctx, name) as pods:
        old = set(_live(pods))
        if not old:
            raise violated(STEP, f"deployment {name}: no Ready pod to delete")
        victim = sorted(old)[0]
        ctx.cluster.core().delete_namespaced_pod(victim, ctx.namespace)

        def replaced(latest: dict[str, KubeObject]) -> bool:
            ready = {n for n, p in latest.items() if _is_live_ready(p)}
            return len(ready) >= REPLICAS and bool(ready - old)

        took = _timed(
            ctx, pods, name, f"replacement for deleted {victim}", replaced
        )
    return ctx.measure(
        "deleted pod replaced",
        took,
        "s",
        TIMEOUT_S,
    )


def check_scaling_converges(ctx: CheckContext, name: str) -> None:
    """Scale through ``SCALE_STEPS``; time each until it converges."""
    apps = ctx.cluster.apps()
    current = REPLICAS
    for replicas in SCALE_STEPS:
        with _pods(ctx, name) as pods:
            apps.patch_namespaced_deployment_scale(
                name, ctx.namespace, {"spec": {"replicas": replicas}}
            )
            took = _timed(
                ctx,
                pods,
                name,
                f"scale {current} -> {replicas}",
                _exactly_ready(replicas),
            )
        ctx.measure(f"scale {current} -> {replicas}", took, "s", TIMEOUT_S)
        current = replicas


# -- helpers ------------------------------------------------------------------


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
    done: Callable[[dict[str, KubeObject]], bool],
) -> float:
    """Seconds until ``done`` holds for the watched pods.

    Raises:
        GuaranteeViolated: not within ``TIMEOUT_S``; names the step, the
            pods seen and kube-controller-manager's leader lease.
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
        raise violated(
            STEP,
            f"deployment {name}: {what} not reached within {TIMEOUT_S:.0f}s "
            f"({exc.last_state}): "
            f"{leader_lease_note(ctx.cluster, 'kube-controller-manager')}",
        ) from exc
    return time.monotonic() - start
