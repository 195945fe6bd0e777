"""ARCH-06: pod creation flows apiserver -> etcd -> scheduler -> kubelet.

N plain pods are created while a watch records, with sub-second wall
times, when each one's containers are first seen running. Afterwards each
pod's timestamps must be in flow order at the API's one-second resolution
(equal allowed): stored (``creationTimestamp``) <= scheduled (PodScheduled
condition and the scheduler's ``Scheduled`` event) <= the kubelet's
``Pulled``/``Created``/``Started`` events on the chosen node. Startup
latency (create call -> running seen via watch) is measured against the
upstream SLO, p99 <= 5 s for stateless pods whose image is present.

Three parts: the pods are scheduled and started (if not, the finding
names the first link that broke: pods not scheduled, or scheduled but
not running, with the scheduler's or the kubelets' Leases); the flow
order of the pods that started; the startup latency, unobserved unless
every pod started (zero samples, or a p99 without the slowest pods,
prove nothing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gauntlet import progress
from gauntlet.checks.arch._chain import chain_of, why_not_within
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.config import env_count
from gauntlet.errors import GuaranteeTimeout, UsageError
from gauntlet.observe.watch import (
    KubeObject,
    Watcher,
    event_reporter,
    event_time,
    joined,
    percentile,
    pod_events,
    seconds,
    unique,
)

STARTUP_PODS_ENV = "KUBE_GAUNTLET_STARTUP_PODS"
DEFAULT_STARTUP_PODS = 10
STARTUP_SLO_ENV = "KUBE_GAUNTLET_STARTUP_SLO_P99_S"
STARTUP_SLO_P99_S = 5.0
"""The upstream pod startup SLO; a slower cluster may declare its own."""
POLL_INTERVAL_S = 0.1
TIMEOUT_S = 30.0
"""Bound for all pods to run (far above the SLO: a miss is a breakage)."""
EVENTS_TIMEOUT_S = 15.0
EVENTS_POLL_S = 0.5
APP = "startup"
KUBELET = "kubelet"
KUBELET_REASONS = ("Pulled", "Created", "Started")
STEP = "pod creation flow"
STARTED = "pods scheduled and started"
LATENCY = "startup latency"
ORDER = "flow order"


@dataclass(frozen=True)
class PodFlow:
    """One pod's way from the API to a running container."""

    pod: str
    node: str
    startup_s: float
    """Create call -> all containers running, as seen by the watch."""
    stamps: tuple[tuple[str, datetime], ...]
    """``(step, time)`` in flow order: stored, scheduled, Pulled, ..."""
    problems: tuple[str, ...]


def startup_pod_count() -> int:
    """N from ``KUBE_GAUNTLET_STARTUP_PODS`` (default 10).

    Raises:
        UsageError: the variable is not a positive whole number.
    """
    return env_count(STARTUP_PODS_ENV, DEFAULT_STARTUP_PODS)


def startup_slo_p99_s() -> float:
    """The startup p99 bound: ``KUBE_GAUNTLET_STARTUP_SLO_P99_S`` or 5 s.

    Raises:
        UsageError: the variable is not a positive number.
    """
    raw = os.environ.get(STARTUP_SLO_ENV, "").strip()
    if not raw:
        return STARTUP_SLO_P99_S
    problem = f"{STARTUP_SLO_ENV}={raw!r}: not a positive number"
    try:
        bound = float(raw)
    except ValueError as exc:
        raise UsageError(problem) from exc
    if not bound > 0:
        raise UsageError(problem)
    return bound


def check_pod_creation_flow(ctx: CheckContext) -> None:
    """Pods are stored, then scheduled, then started by their node's kubelet.

    Raises:
        GuaranteeViolated: naming the link that broke for pods never
            started (not scheduled: the scheduler's leader lease; not
            running: the kubelets' node leases), a timestamp out of
            order or from the wrong reporter, or a startup p99 above the
            SLO.
        CheckSkipped: nothing could be observed.
    """
    app = unique(APP)
    try:
        _check_flow(ctx, app)
    finally:  # unscheduled leftovers would start with the next run's pods
        workloads.delete_app_pods(ctx.cluster.core(), ctx.namespace, app)


def _check_flow(ctx: CheckContext, app: str) -> None:
    count = startup_pod_count()
    bound = startup_slo_p99_s()
    core, ns = ctx.cluster.core(), ctx.namespace
    with Watcher(
        core.list_namespaced_pod, ns, label_selector=f"app={app}"
    ) as pods:
        submitted = _create_pods(ctx, app, count)
        with ctx.part(STARTED) as part:
            missing = _wait_all_started(ctx, pods, submitted)
            if missing:
                part.finding(missing)
        startup = {
            name: seen.at - at
            for name, at in submitted.items()
            if (seen := pods.first(name, _running)) is not None
        }
    with ctx.part(LATENCY):
        p50, p99 = startup_percentiles(list(startup.values()), count)
        ctx.measure("pod startup p50", p50, "s")
        ctx.measure("pod startup p99", p99, "s", bound=bound)
        if p99 > bound:
            raise violated(
                "pod startup latency",
                f"p99 {p99:.2f}s over {count} pods exceeds the SLO of "
                f"{bound:g}s (p50 {p50:.2f}s)",
            )
    with ctx.part(ORDER) as part:
        if not startup:
            raise CheckSkipped("no pod started, no flow to order")
        flows = _flows(ctx, app, startup)
        ctx.evidence("pod creation flow", [_row(f) for f in flows])
        problems = [p for f in flows for p in f.problems]
        if problems:
            part.finding(joined(problems))
    ctx.conclude(STEP)


def startup_percentiles(
    latencies: Sequence[float], submitted: int
) -> tuple[float, float]:
    """p50 and p99 of the startup latencies of all ``submitted`` pods.

    Raises:
        CheckSkipped: not every pod started: zero samples measure
            nothing, and a p99 that leaves out the pods that never
            started would flatter the cluster.
    """
    if not latencies:
        raise CheckSkipped("no pod started: no startup latency to measure")
    if len(latencies) < submitted:
        raise CheckSkipped(
            f"only {len(latencies)} of {submitted} pods started: a p99 "
            "without the others is no p99"
        )
    return percentile(latencies, 50), percentile(latencies, 99)


def _create_pods(ctx: CheckContext, app: str, count: int) -> dict[str, float]:
    """Create the pods; name -> wall time just before its create call."""
    core, submitted = ctx.cluster.core(), {}
    workloads.ensure_service_account(core, ctx.namespace)
    for i in range(count):
        name = f"{app}-{i}"
        body: KubeObject = workloads.shell_pod(
            name, ctx.images.workload, labels={"app": app}
        )
        submitted[name] = time.time()
        core.create_namespaced_pod(ctx.namespace, body)
    return submitted


def _running(pod: KubeObject) -> bool:
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return bool(statuses) and all(
        s.state is not None and s.state.running is not None for s in statuses
    )


def _wait_all_started(
    ctx: CheckContext, pods: Watcher, submitted: dict[str, float]
) -> str | None:
    """None once every pod ran, else the finding: which link broke."""

    def all_started() -> bool:
        return all(pods.first(n, _running) for n in submitted)

    def describe() -> str:
        latest = pods.latest()
        running = sum(1 for p in latest.values() if _running(p))
        bound = sum(1 for p in latest.values() if p.spec.node_name)
        return f"{bound}/{len(submitted)} bound, {running} running"

    try:
        pods.wait(
            f"{len(submitted)} pods running",
            all_started,
            TIMEOUT_S,
            POLL_INTERVAL_S,
            describe,
        )
    except GuaranteeTimeout as exc:
        return _not_started(ctx, pods, submitted, exc.last_state)
    return None


def _not_started(
    ctx: CheckContext,
    pods: Watcher,
    submitted: dict[str, float],
    state: str,
) -> str:
    """The first link that did not deliver, with the pods left behind."""
    latest = pods.latest()
    seen = [latest[n] for n in submitted if n in latest]
    chain = chain_of(len(submitted), seen, "running")
    why = why_not_within(ctx, chain, "running", TIMEOUT_S)
    behind = sorted(n for n in submitted if not pods.first(n, _running))
    return (
        f"{why or f'pods not all seen running within {TIMEOUT_S:.0f}s'} "
        f"({state}; pods: {joined(behind, 3)})"
    )


def _flows(
    ctx: CheckContext, app: str, startup: dict[str, float]
) -> list[PodFlow]:
    """Each started pod's flow, once its Scheduled and Started are in.

    Kubelet events arrive batched; missing ones after the wait are
    reported by ``_flow`` as problems.
    """
    core, ns = ctx.cluster.core(), ctx.namespace
    listed: KubeObject = core.list_namespaced_pod(
        ns, label_selector=f"app={app}"
    )
    pods = {
        p.metadata.name: p for p in listed.items if p.metadata.name in startup
    }
    last: dict[str, list[KubeObject]] = {}

    def complete() -> bool:
        last.clear()
        last.update(pod_events(core, ns))
        return all(
            {"Scheduled", "Started"}
            <= {e.reason for e in last.get(p.metadata.uid, [])}
            for p in pods.values()
        )

    try:
        progress.wait_until(
            "Scheduled and Started events of every pod",
            complete,
            EVENTS_TIMEOUT_S,
            EVENTS_POLL_S,
            quiet=True,
        )
    except GuaranteeTimeout:
        pass  # judged below: the missing events become named problems
    return [
        _flow(pods[name], last.get(pods[name].metadata.uid, []), startup[name])
        for name in sorted(pods)
    ]


def _flow(
    pod: KubeObject, events: list[KubeObject], startup_s: float
) -> PodFlow:
    name, node = pod.metadata.name, str(pod.spec.node_name)
    problems: list[str] = []
    stamps: list[tuple[str, datetime]] = [
        ("stored", seconds(pod.metadata.creation_timestamp))
    ]
    condition = next(
        (
            c
            for c in pod.status.conditions or []
            if c.type == "PodScheduled" and c.status == "True"
        ),
        None,
    )
    if condition is None or condition.last_transition_time is None:
        problems.append(f"{name}: no PodScheduled condition")
    else:
        stamps.append(("scheduled", seconds(condition.last_transition_time)))
    scheduler = pod.spec.scheduler_name or "default-scheduler"
    stamps += _reported(
        name, events, "Scheduled", (scheduler, None), True, problems
    )
    for reason in KUBELET_REASONS:
        stamps += _reported(
            name,
            events,
            reason,
            (KUBELET, node),
            reason == "Started",
            problems,
        )
    for (step_a, at_a), (step_b, at_b) in zip(stamps, stamps[1:], strict=False):
        if at_b < at_a:
            problems.append(
                f"{name}: {step_b} ({at_b:%H:%M:%S}) before "
                f"{step_a} ({at_a:%H:%M:%S})"
            )
    return PodFlow(name, node, startup_s, tuple(stamps), tuple(problems))


def _reported(
    pod: str,
    events: list[KubeObject],
    reason: str,
    reporter: tuple[str, str | None],
    required: bool,
    problems: list[str],
) -> list[tuple[str, datetime]]:
    """The first ``reason`` event's time, checking who reported it."""
    matching = sorted((e for e in events if e.reason == reason), key=event_time)
    if not matching:
        if required:
            who = "/".join(r for r in reporter if r)
            problems.append(f"{pod}: no {reason} event from {who}")
        return []
    event = matching[0]
    component, instance = event_reporter(event)
    want_component, want_instance = reporter
    if component != want_component or (
        want_instance is not None and instance != want_instance
    ):
        want = "/".join(r for r in reporter if r)
        problems.append(
            f"{pod}: {reason} reported by {component}/{instance or '-'}, "
            f"not {want}"
        )
    return [(reason, seconds(event_time(event)))]


def _row(flow: PodFlow) -> dict[str, object]:
    return {
        "pod": flow.pod,
        "node": flow.node,
        "startup_s": round(flow.startup_s, 3),
        **{step: at.isoformat() for step, at in flow.stamps},
        "problems": list(flow.problems),
    }
