"""UPG-01: versions are within the skew policy for the target.

Every component's version is read where it runs (``_component_versions``)
and judged against the upstream version skew policy, kept as data with
its source (``_skew_policy``, ``data/version-skew.json``), and against the
target version; ``_upgrade_order`` names the steps. Five parts:

API servers
    each one's own ``/version``: at most one minor apart;
kubelets, kube-proxies
    per node: never newer than the oldest API server, at most three
    minors older than the newest, kube-proxy within three of its kubelet;
controllers
    controller-manager and scheduler per control-plane node: never newer,
    at most one minor older (not applicable to a managed control plane:
    the provider upgrades them);
target step
    one minor at a time (every skipped minor named), no downgrade, and
    nothing left too far behind once the API servers are at the target.

An instance whose version cannot be read is its own unobserved part
(never a pass). The upgrade order, naming the nodes, is returned,
announced before the verdict and attached as evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gauntlet.checks.context import CheckContext
from gauntlet.checks.upg._component_versions import (
    ClusterVersions,
    read_versions,
)
from gauntlet.checks.upg._skew_policy import (
    APISERVER,
    CONTROLLERS,
    KUBE_PROXY,
    KUBELET,
    Finding,
    SkewPolicy,
    judge,
    load_policy,
)
from gauntlet.checks.upg._upgrade_order import UpgradePlan, upgrade_order
from gauntlet.kube_version import KubeVersion

__all__ = ["STEP", "UpgradePlan", "check_version_skew", "version_table"]

STEP = "versions are within the skew policy for the target"
API_SERVERS = "API servers"
KUBELETS = "kubelets"
KUBE_PROXIES = "kube-proxies"
CONTROLLERS_PART = "controllers"
TARGET = "target step"
COMPONENT_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (API_SERVERS, (APISERVER,)),
    (KUBELETS, (KUBELET,)),
    (KUBE_PROXIES, (KUBE_PROXY,)),
    (CONTROLLERS_PART, CONTROLLERS),
)
MANAGED = (
    "a managed control plane: the provider runs and upgrades "
    "kube-controller-manager and kube-scheduler with the API servers"
)


def check_version_skew(
    ctx: CheckContext,
    target: KubeVersion,
    announce: Callable[[str], object] | None = None,
) -> UpgradePlan:
    """Every component within the skew policy, the target one minor up.

    ``announce`` gets the upgrade order line by line before the verdict,
    so that a failing run shows it too.

    Raises:
        GuaranteeViolated: naming each component (node, version) and the
            rule it breaks, or the target's skipped minors or downgrade.
        CheckSkipped: no version could be read.
    """
    policy = load_policy()
    seen = read_versions(ctx)
    findings = judge(policy, seen.observed, target)
    steps = upgrade_order(
        seen.observed, target, seen.control_planes, seen.workers, seen.managed
    )
    plan = UpgradePlan(target, tuple(steps), tuple(map(str, findings)))
    ctx.evidence("component versions", version_table(seen, policy))
    ctx.evidence("upgrade order", plan.text)
    _measure(ctx, seen, target)
    if announce is not None:
        for line in plan.lines():
            announce(line)
    _parts(ctx, seen, findings)
    ctx.conclude(STEP)
    return plan


def _parts(
    ctx: CheckContext, seen: ClusterVersions, findings: Sequence[Finding]
) -> None:
    servers = seen.of(APISERVER)
    for part, names in COMPONENT_PARTS:
        if part == CONTROLLERS_PART and seen.managed:
            ctx.not_applicable(part, MANAGED)
            continue
        if not seen.of(*names) or not servers:
            ctx.unobserved(part, _why_unread(seen, names, bool(servers)))
            continue
        with ctx.part(part) as found:
            for f in findings:
                if f.component in names and not f.about_target:
                    found.finding(str(f))
        for u in seen.unread_of(*names):  # the others were read
            ctx.unobserved(f"{u.component} on {u.node}", u.reason)
    if servers:
        with ctx.part(TARGET) as found:
            for f in findings:
                if f.about_target:
                    found.finding(str(f))
    else:
        ctx.unobserved(TARGET, "no API server version was read")


def _why_unread(
    seen: ClusterVersions, names: Sequence[str], servers: bool
) -> str:
    if seen.of(*names) and not servers:
        return "no API server version to compare with"
    reasons = [f"{u.node}: {u.reason}" for u in seen.unread_of(*names)]
    return "; ".join(reasons) or f"no {' or '.join(names)} found"


def _measure(
    ctx: CheckContext, seen: ClusterVersions, target: KubeVersion
) -> None:
    servers = [o.version for o in seen.of(APISERVER)]
    if not servers:
        return
    oldest, newest = min(servers), max(servers)
    ctx.measure("oldest API server minor", oldest.minor, "minor")
    ctx.measure("newest API server minor", newest.minor, "minor")
    ctx.measure(
        "API server minor spread", newest.minors_after(oldest), "minors", 1
    )
    ctx.measure("minors to target", target.minors_after(oldest), "minors", 1)
    kubelets = [o.version for o in seen.of(KUBELET)]
    if kubelets:
        ctx.measure(
            "oldest kubelet behind target",
            target.minors_after(min(kubelets)),
            "minors",
            3,
        )


def version_table(seen: ClusterVersions, policy: SkewPolicy) -> str:
    """Every instance, its version and where it was read; then the ones
    that could not be read, with why."""
    rows = [("component", "node", "version", "source")]
    rows += [
        (o.component, o.node, o.shown, o.source)
        for o in sorted(seen.observed, key=lambda o: (o.component, o.node))
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"skew policy: {policy.source} (read {policy.read})",
        "",
        *(
            "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True))
            + "  "
            + r[3]
            for r in rows
        ),
    ]
    if seen.unread:
        lines += ["", "not read:"]
        lines += [
            f"  {u.component} on {u.node}: {u.reason}" for u in seen.unread
        ]
    return "\n".join(lines)
