"""ARCH-06: pod creation flows apiserver -> etcd -> scheduler -> kubelet.

N plain pods are created while a watch records, with sub-second wall
times, when each one's containers are first seen running. Afterwards each
pod's timestamps must be in flow order at the API's one-second resolution
(equal allowed): stored (``creationTimestamp``) <= scheduled (PodScheduled
condition and the scheduler's ``Scheduled`` event) <= the kubelet's
``Pulled``/``Created``/``Started`` events on the chosen node. Startup
latency (create call -> running seen via watch) is measured against the
upstream SLO, p99 <= 5 s for stateless pods whose image is present.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime

from gauntlet import progress
from gauntlet.checks.context import CheckContext, violated
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeTimeout, UsageError
from gauntlet.observe.watch import (
    KubeObject,
    Watcher,
    event_reporter,
    event_time,
    joined,
    leader_lease_note,
    node_lease_note,
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
    raw = os.environ.get(STARTUP_PODS_ENV, "").strip()
    if not raw:
        return DEFAULT_STARTUP_PODS
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{STARTUP_PODS_ENV}={raw!r}: not a positive number")
    return int(raw)


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
        GuaranteeViolated: naming the pods without ``Scheduled`` (and the
            scheduler's leader lease) or not started (and the kubelet's
            node lease), a timestamp out of order or from the wrong
            reporter, or a startup p99 above the SLO.
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
        _wait_all_started(ctx, pods, submitted)
        startup = {
            name: _first_started(pods, name) - at
            for name, at in submitted.items()
        }
    p50 = percentile(list(startup.values()), 50)
    p99 = percentile(list(startup.values()), 99)
    ctx.measure("pod startup p50", p50, "s")
    ctx.measure("pod startup p99", p99, "s", bound=bound)
    flows = _flows(ctx, app, startup)
    ctx.evidence("pod creation flow", [_row(f) for f in flows])
    problems = [p for f in flows for p in f.problems]
    if problems:
        raise violated(STEP, joined(problems))
    if p99 > bound:
        raise violated(
            "pod startup latency",
            f"p99 {p99:.2f}s over {count} pods exceeds the SLO of "
            f"{bound:g}s (p50 {p50:.2f}s)",
        )


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


def _first_started(pods: Watcher, name: str) -> float:
    seen = pods.first(name, _running)
    assert seen is not None, f"{name} was waited for"
    return seen.at


def _wait_all_started(
    ctx: CheckContext, pods: Watcher, submitted: dict[str, float]
) -> None:
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
        raise _not_started(ctx, pods, submitted, exc.last_state) from exc


def _not_started(
    ctx: CheckContext,
    pods: Watcher,
    submitted: dict[str, float],
    state: str,
) -> AssertionError:
    latest = pods.latest()
    unbound = sorted(
        n for n in submitted if n not in latest or not latest[n].spec.node_name
    )
    if unbound:
        return violated(
            STEP,
            f"no Scheduled for {len(unbound)} pods after {TIMEOUT_S:.0f}s: "
            f"{leader_lease_note(ctx.cluster, 'kube-scheduler')} "
            f"(pending: {joined(unbound, 3)})",
        )
    stuck = {
        n: latest[n].spec.node_name
        for n in submitted
        if not pods.first(n, _running)
    }
    notes = "; ".join(
        node_lease_note(ctx.cluster, node)
        for node in sorted(set(stuck.values()))
    )
    return violated(
        STEP,
        f"{len(stuck)} pods scheduled but not started after "
        f"{TIMEOUT_S:.0f}s ({state}): {notes} "
        f"(pods: {joined(sorted(stuck), 3)})",
    )


def _flows(
    ctx: CheckContext, app: str, startup: dict[str, float]
) -> list[PodFlow]:
    """Each pod's flow, once every pod's Scheduled and Started are in.

    Kubelet events arrive batched; missing ones after the wait are
    reported by ``_flow`` as problems.
    """
    core, ns = ctx.cluster.core(), ctx.namespace
    listed: KubeObject = core.list_namespaced_pod(
        ns, label_selector=f"app={app}"
    )
    pods = {p.metadata.name: p for p in listed.items}
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
