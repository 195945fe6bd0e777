"""UPG-05: the baseline is green, and the cluster matches it afterwards.

Before an upgrade (``check_baseline_is_green``) the gate's ARCH-11..14
checks run on the same context, each on a sub-context whose parts become
this check's (named ``ARCH-1N <part>``, findings prefixed the same way):
a violation in one is never hidden by a skip in another, and the verdict
says how many parts were proved. Then a snapshot of what "healthy" looks
like (``_snapshot``: pods, restarts, Ready nodes, API latency) is saved
as ``baseline.json`` in the run's directory, with the gate's verdicts in
it, also when the gate failed: the post-upgrade run should know.

After the upgrade (``check_cluster_matches_baseline``) the same snapshot
is taken and compared (``_baseline_data.compare``): new restarts of pods
that kept their uid, workloads with fewer ready pods, nodes no longer
Ready, API latency worse than ``LATENCY_BOUND``. A part with nothing to
compare (no pod kept its uid) is unobserved, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gauntlet.checks.arch.etcd_health import check_etcd_is_healthy
from gauntlet.checks.arch.ha import check_control_plane_is_highly_available
from gauntlet.checks.arch.health import check_health_endpoints_are_green
from gauntlet.checks.arch.leases import check_one_active_leader_each
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.checks.upg._baseline_data import (
    LATENCY,
    NODES,
    RESTARTS,
    WORKLOADS,
    Baseline,
    LatencyBound,
    Snapshot,
    compare,
    coverage,
    load_baseline,
)
from gauntlet.checks.upg._snapshot import capture
from gauntlet.errors import GuaranteeViolated
from gauntlet.reporting.parts import PartResult

__all__ = [
    "BASELINE_FILE",
    "GATE",
    "LATENCY_BOUND",
    "POST_STEP",
    "STEP",
    "check_baseline_is_green",
    "check_cluster_matches_baseline",
    "load_baseline",
    "gate_parts",
]

STEP = "the baseline is green"
POST_STEP = "the cluster matches its baseline"
SNAPSHOT_PART = "healthy snapshot"
BASELINE_FILE = "baseline.json"
LATENCY_BOUND = LatencyBound()
"""p99 may grow to 2x the baseline's, or by 100 ms, whichever is more."""
Gate = tuple[tuple[str, Callable[[CheckContext], None]], ...]
GATE: Gate = (
    ("ARCH-11", check_control_plane_is_highly_available),
    ("ARCH-12", check_health_endpoints_are_green),
    ("ARCH-13", check_etcd_is_healthy),
    ("ARCH-14", check_one_active_leader_each),
)
SEEN = ("checked", "violated")
"""Part statuses after which ``conclude`` never skips."""
UNCOMPARED = {
    RESTARTS: "no pod kept its uid since the baseline (all recreated)",
    WORKLOADS: "the baseline has no ready pod",
    NODES: "the baseline has no Ready node",
    LATENCY: "no latency sample",
}


def check_baseline_is_green(ctx: CheckContext, out: Path) -> Baseline:
    """ARCH-11..14 pass; the snapshot is saved as ``out/baseline.json``.

    Raises:
        GuaranteeViolated: every finding of the gate's checks, prefixed
            with its guarantee (the baseline is written first).
        CheckSkipped: nothing could be observed.
    """
    gate = gate_parts(ctx)
    snapshot = capture(ctx.cluster)
    baseline = Baseline(snapshot, tuple(gate))
    path = out / BASELINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline.to_json() + "\n", encoding="utf-8")
    ctx.evidence(
        "baseline",
        f"{path}\n{len(snapshot.pods)} pods, {len(snapshot.nodes)} nodes, "
        f"API p50 {snapshot.latency.p50_ms} ms, p99 "
        f"{snapshot.latency.p99_ms} ms; gate "
        f"{'green' if baseline.green else 'NOT green'}",
    )
    with ctx.part(SNAPSHOT_PART):
        _measure(ctx, snapshot, "")
        if not snapshot.pods or not any(snapshot.nodes.values()):
            raise CheckSkipped(
                f"the snapshot holds {len(snapshot.pods)} pods and no Ready "
                "node: nothing to compare after the upgrade"
            )
    ctx.conclude(STEP)
    return baseline


def gate_parts(ctx: CheckContext, gate: Gate = GATE) -> list[PartResult]:
    """Run ARCH-11..14 on a sub-context; their parts are added to ``ctx``
    (renamed ``ARCH-1N <part>``) and returned. What a gate check raises
    outside its parts becomes a part of its own, so nothing is lost."""
    sub = ctx.fresh()
    added: list[PartResult] = []
    for gid, check in gate:
        first = len(sub.parts)

        def forward(part: PartResult, gid: str = gid) -> None:
            renamed = PartResult(
                f"{gid} {part.name}",
                part.status,
                part.reason,
                tuple(f"{gid}: {f}" for f in part.findings),
            )
            added.append(renamed)
            ctx.parts.append(renamed)
            ctx.record_part(renamed)

        sub.record_part = forward
        try:
            check(sub)
        except GuaranteeViolated as exc:
            if not any(p.status == "violated" for p in sub.parts[first:]):
                forward(PartResult("check", "violated", "", (str(exc),)))
        except CheckSkipped as exc:  # = Unobservable
            own = sub.parts[first:]
            if not own or any(p.status in SEEN for p in own):
                forward(PartResult("check", "unobserved", str(exc)))
    return added


def check_cluster_matches_baseline(
    ctx: CheckContext, baseline_path: Path
) -> None:
    """No new restarts, every workload back, every node Ready again, and
    API latency within ``LATENCY_BOUND`` of the baseline's.

    Raises:
        BaselineError: the baseline file is missing or not a baseline.
        GuaranteeViolated: naming each pod and container that restarted,
            each workload short of ready pods, each node no longer Ready,
            and the latency with its bound.
        CheckSkipped: nothing could be compared.
    """
    baseline = load_baseline(baseline_path)
    before, now = baseline.snapshot, capture(ctx.cluster)
    changes = compare(before, now, LATENCY_BOUND)
    compared = coverage(before, now)
    ctx.evidence(
        "compared with the baseline",
        {
            "baseline": str(baseline_path),
            "baseline taken": before.taken,
            "baseline server": before.server,
            "server now": now.server,
            "baseline gate green": baseline.green,
            "compared": compared,
            "changes": [f"{c.part}: {c.text}" for c in changes],
        },
    )
    _measure(ctx, now, "")
    _measure(ctx, before, "baseline ")
    ctx.measure(
        "API latency p99 vs baseline",
        now.latency.p99_ms,
        "ms",
        bound=LATENCY_BOUND.allowed_ms(before.latency.p99_ms),
    )
    for name in (RESTARTS, WORKLOADS, NODES, LATENCY):
        with ctx.part(name) as part:
            if compared[name] == 0:
                raise CheckSkipped(UNCOMPARED[name])
            for change in changes:
                if change.part == name:
                    part.finding(change.text)
    ctx.conclude(POST_STEP)


def _measure(ctx: CheckContext, snap: Snapshot, prefix: str) -> None:
    ready_nodes = sum(1 for ready in snap.nodes.values() if ready)
    ctx.measure(f"{prefix}pods", len(snap.pods), "pods")
    ctx.measure(
        f"{prefix}ready pods", sum(1 for p in snap.pods if p.ready), "pods"
    )
    ctx.measure(f"{prefix}Ready nodes", ready_nodes, "nodes")
    ctx.measure(f"{prefix}API latency p50", snap.latency.p50_ms, "ms")
    ctx.measure(f"{prefix}API latency p99", snap.latency.p99_ms, "ms")
