"""UPG-06: an upgrade rehearsal keeps workloads up.

The upgrade itself is a command (the lab's own ``gauntlet lab upgrade``,
or the user's); the check measures around it what users would feel: a
Service client's requests (from a DaemonSet pod a drain leaves in place),
writes through the front door, restarts of pods that were never evicted,
and afterwards whether every API server and kubelet runs the target and
the control plane is healthy (the gate's ARCH-11, 12 and 14). Downtime
windows and the command's own steps are measured and reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from gauntlet.checks.arch._apiservers import api_pool, api_servers, ask
from gauntlet.checks.arch.ha import check_control_plane_is_highly_available
from gauntlet.checks.arch.health import check_health_endpoints_are_green
from gauntlet.checks.arch.leases import check_one_active_leader_each
from gauntlet.checks.chaos import writes
from gauntlet.checks.context import CheckContext, CheckSkipped, Part
from gauntlet.checks.upg import _rehearsal_workload as workload
from gauntlet.checks.upg._upgrade_command import CommandResult, run_upgrade
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeTimeout, GuaranteeViolated, UsageError
from gauntlet.kube_version import KubeVersion, parse_version
from gauntlet.observe import objects
from gauntlet.upgrade_steps import read_steps

__all__ = ["check_upgrade_rehearsal"]

STEP = "an upgrade rehearsal keeps workloads up"
SERVICE_MIN_RATIO = 0.99
"""Share of the client's requests the Service must answer during the
upgrade: a drain that respects the budget loses none."""
SERVICE_MAX_OUTAGE_S = 5.0
"""Longest run of failed Service requests allowed (kube-proxy restarting
and endpoints moving may drop a request or two)."""
WRITE_MAX_GAP_S = 15.0
"""Longest time without an acknowledged write through the front door:
each API server restarts once, and the load balancer moves off it."""
SETTLE_S = 5.0
HEALTHY_TIMEOUT_S = 300.0
GATE_AFTER: tuple[tuple[str, Callable[[CheckContext], None]], ...] = (
    ("ARCH-11", check_control_plane_is_highly_available),
    ("ARCH-12", check_health_endpoints_are_green),
    ("ARCH-14", check_one_active_leader_each),
)


def check_upgrade_rehearsal(
    ctx: CheckContext,
    command: str,
    target: KubeVersion,
    run_dir: Path,
    say: Callable[[str], object],
) -> None:
    """Run ``command`` while the workload serves and writes go on.

    Raises:
        GuaranteeViolated: naming the failed requests, the write gap,
            the pods that restarted, the components not at ``target``,
            the command's failure or the unhealthy gate checks.
    """
    client_node = _client_node(ctx)
    workload.deploy(ctx, client_node)
    before = workload.pod_restarts(ctx)
    steps_file = run_dir / "upgrade-steps.jsonl"
    steps_file.unlink(missing_ok=True)
    front_door = {"front door": ctx.cluster.server}
    say(f"rehearsing the upgrade to {target}: {command}")
    with writes.recording(
        ctx, front_door, writes.PROBE_NAMESPACE, reads=False, pause_s=0.2
    ) as recorder:
        time.sleep(SETTLE_S)
        result = run_upgrade(command, run_dir / "upgrade.log", steps_file, say)
        _wait_healthy(ctx)
        time.sleep(SETTLE_S)
    with ctx.part("upgrade command") as part:
        _judge_command(ctx, part, result, steps_file)
    with ctx.part("Service during the upgrade") as part:
        _judge_service(ctx, part, result)
    with ctx.part("writes through the front door") as part:
        stats = writes.write_stats(recorder.ops, result.started, result.ended)
        writes.attempted(stats, "during the upgrade")
        ctx.measure("writes failed during the upgrade", stats.failed, "")
        gap = writes.longest_gap_s(stats, "during the upgrade")
        ctx.measure(
            "longest write gap during the upgrade", gap, "s", WRITE_MAX_GAP_S
        )
        if gap > WRITE_MAX_GAP_S:
            part.finding(
                f"no write through the front door succeeded for {gap:.1f}s "
                f"(bound {WRITE_MAX_GAP_S:.0f}s); {stats.failed} of "
                f"{stats.total} failed"
            )
    with ctx.part("pods not evicted kept running") as part:
        _judge_restarts(part, before, workload.pod_restarts(ctx))
    with ctx.part("every component at the target") as part:
        _judge_versions(ctx, part, target)
    with ctx.part("the gate after the upgrade") as part:
        _judge_gate(ctx, part)
    ctx.conclude(STEP)


def _client_node(ctx: CheckContext) -> str:
    nodes = ctx.topology.workers or ctx.topology.nodes
    if not nodes:
        raise CheckSkipped("no node to run the Service client on")
    return nodes[0].name


def _wait_healthy(ctx: CheckContext) -> None:
    """Nodes Ready and the web pods back, before judging (a timeout is
    left to the parts, which then find what is not back)."""
    core = ctx.cluster.core()
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            nodes = core.list_node().items
            if all(workloads.node_is_ready(n) for n in nodes):
                workloads.wait_deployment_ready(
                    ctx.cluster.apps(),
                    ctx.namespace,
                    "web",
                    max(1.0, deadline - time.monotonic()),
                )
                return
        except (ApiException, HTTPError, GuaranteeTimeout):
            pass  # the API may blink while it settles; the parts judge
        time.sleep(2.0)


def _judge_command(
    ctx: CheckContext, part: Part, result: CommandResult, steps_file: Path
) -> None:
    ctx.measure("upgrade duration", result.seconds, "s")
    steps = read_steps(steps_file)
    if steps:
        ctx.evidence(
            "upgrade steps",
            [
                {"step": s.step, "node": s.node, "seconds": round(s.seconds, 1)}
                for s in steps
            ],
        )
        longest = max(steps, key=lambda s: s.seconds)
        ctx.measure(
            f"longest step ({longest.node} {longest.step})",
            longest.seconds,
            "s",
        )
        for kind in sorted({s.step for s in steps}):
            ctx.measure(
                f"{kind} steps, total",
                sum(s.seconds for s in steps if s.step == kind),
                "s",
            )
    if result.timed_out:
        part.finding(f"the upgrade command ran past {result.seconds:.0f}s")
    elif result.exit_code != 0:
        part.finding(
            f"the upgrade command failed (exit {result.exit_code}): "
            + " | ".join(result.tail[-3:])
        )


def _judge_service(
    ctx: CheckContext, part: Part, result: CommandResult
) -> None:
    log = [
        (t, ok)
        for t, ok in workload.client_log(ctx)
        if result.start <= t <= result.end
    ]
    if not log:
        part.finding("the Service client logged no request during the upgrade")
        return
    answered = sum(ok for _, ok in log)
    windows = workload.failure_windows(log)
    ctx.measure(
        "Service success during the upgrade", 100 * answered / len(log), "%"
    )
    ctx.measure("Service requests failed", len(log) - answered, "")
    longest = max((w.seconds for w in windows), default=0)
    ctx.measure("longest Service outage", longest, "s", SERVICE_MAX_OUTAGE_S)
    ctx.evidence(
        "Service outage windows",
        [{"start": w.start, "end": w.end, "failed": w.failed} for w in windows],
    )
    if answered / len(log) < SERVICE_MIN_RATIO:
        part.finding(
            f"the Service answered {answered} of {len(log)} requests during "
            f"the upgrade (bound {SERVICE_MIN_RATIO:.0%})"
        )
    if longest > SERVICE_MAX_OUTAGE_S:
        part.finding(
            f"the Service failed every request for {longest}s "
            f"(bound {SERVICE_MAX_OUTAGE_S:.0f}s)"
        )


def _judge_restarts(
    part: Part,
    before: dict[str, tuple[str, int]],
    after: dict[str, tuple[str, int]],
) -> None:
    kept = [
        (pod, was, after[pod][1])
        for pod, (uid, was) in before.items()
        if pod in after and after[pod][0] == uid
    ]
    if not kept:
        raise CheckSkipped("no pod kept its identity through the upgrade")
    for pod, was, now in kept:
        if now > was:
            part.finding(
                f"pod {pod} restarted {now - was} time(s) during the upgrade "
                "without being evicted"
            )


def _judge_versions(ctx: CheckContext, part: Part, target: KubeVersion) -> None:
    servers = api_servers(ctx.cluster, ctx.topology)
    with api_pool(ctx.cluster, credentials=True) as pool:
        for server in servers:
            answer = ask(pool, server, "GET", "/version")
            if answer.status != 200:
                part.finding(
                    f"API server {server.name} did not answer /version "
                    f"({answer.status or answer.body})"
                )
                continue
            version = json.loads(answer.body).get("gitVersion", "")
            _at_target(part, f"API server {server.name}", version, target)
    for node in ctx.cluster.core().list_node().items:
        info = node.status.node_info if node.status else None
        version = str(info.kubelet_version) if info else ""
        _at_target(part, f"kubelet on {objects.name(node)}", version, target)


def _at_target(part: Part, who: str, version: str, target: KubeVersion) -> None:
    try:
        runs = parse_version(version, who)
    except UsageError:
        part.finding(f"{who} reports no version we can read ({version!r})")
        return
    if runs != target:
        part.finding(f"{who} runs {version}, not {target}")


def _judge_gate(ctx: CheckContext, part: Part) -> None:
    unobserved = []
    for gid, check in GATE_AFTER:
        try:
            check(ctx.fresh())
        except GuaranteeViolated as exc:
            part.finding(f"{gid} after the upgrade: {exc}")
        except CheckSkipped as exc:
            unobserved.append(f"{gid}: {exc}")
    if len(unobserved) == len(GATE_AFTER):
        raise CheckSkipped("; ".join(unobserved))
