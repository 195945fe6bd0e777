"""ARCH-11: the control plane is highly available.

etcd's member list, health and status come from etcdctl on a
control-plane node (see ``gauntlet.observe.etcd``): the voting member
count must be odd, every member healthy (an added member that never
started counts as unhealthy) and exactly one leader agreed on. The
failure tolerance (n-1)/2 is measured. Fewer than 3 control-plane
nodes fails in the ``production`` HA profile and is a warning in ``dev``
(``KUBE_GAUNTLET_HA_PROFILE``, default ``production``).
"""

from __future__ import annotations

import os
import warnings

from gauntlet.checks.arch._support import etcd_members_or_fail
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.errors import UsageError
from gauntlet.observe.etcd import Member

STEP = "the control plane is highly available"
ENV_PROFILE = "KUBE_GAUNTLET_HA_PROFILE"
TOPOLOGIES = ("production", "dev")
MIN_CONTROL_PLANES = 3


class HaWarning(UserWarning):
    """A shortfall the dev HA profile tolerates (reported, not failed)."""


def ha_profile() -> str:
    """The HA profile from the environment.

    Raises:
        UsageError: the variable names no known profile.
    """
    profile = os.environ.get(ENV_PROFILE) or "production"
    if profile not in TOPOLOGIES:
        raise UsageError(
            f"{ENV_PROFILE}={profile!r}: choose one of {', '.join(TOPOLOGIES)}"
        )
    return profile


def check_control_plane_is_highly_available(ctx: CheckContext) -> None:
    """Enough control-plane nodes; etcd odd, healthy, with one leader.

    Raises:
        GuaranteeViolated: naming the control-plane count, the etcd member
            count, each unhealthy member or the leaders seen.
        CheckSkipped: the control plane is hidden, or etcd cannot be
            reached from any control-plane node.
        UsageError: ``KUBE_GAUNTLET_HA_PROFILE`` is not a known profile.
    """
    profile = ha_profile()
    count = len(ctx.topology.control_planes)
    if count == 0:
        raise CheckSkipped(
            f"{STEP}: no control-plane node is visible (managed control plane)"
        )
    ctx.measure("control-plane nodes", count, "nodes")
    problems = []
    if count < MIN_CONTROL_PLANES:
        shortfall = (
            f"{count} control-plane node(s), fewer than {MIN_CONTROL_PLANES}"
            f" ({profile} profile)"
        )
        if profile == "production":
            problems.append(shortfall)
        else:
            ctx.evidence("HA warning", shortfall)
            warnings.warn(f"{STEP}: {shortfall}", HaWarning, stacklevel=2)
    members = etcd_members_or_fail(ctx, STEP, problems)
    problems += _etcd_problems(ctx, members)
    if problems:
        raise violated(STEP, "; ".join(problems))


def _etcd_problems(ctx: CheckContext, members: list[Member]) -> list[str]:
    ctx.evidence(
        "etcd members",
        [
            {
                "member": m.label,
                "learner": m.learner,
                "healthy": m.healthy,
                "error": m.error,
                "leader": m.leader_id,
            }
            for m in members
        ],
    )
    voting = [m for m in members if not m.learner]
    size = len(voting)
    ctx.measure("etcd voting members", size, "members")
    ctx.measure("etcd failure tolerance", max(size - 1, 0) // 2, "members")
    problems = []
    if size % 2 == 0:
        problems.append(
            f"etcd has an even number of voting members ({size}: "
            f"{', '.join(m.label for m in voting)})"
        )
    for m in members:
        if not m.healthy:
            problems.append(f"etcd member {m.label} is unhealthy: {m.error}")
    ids = {m.member_id for m in members}
    leaders = {m.leader_id for m in members if m.leader_id}
    ctx.measure("etcd leaders", len(leaders), "leaders", bound=1)
    if len(leaders) != 1:
        problems.append(
            f"etcd members report {len(leaders)} leaders "
            f"({', '.join(sorted(leaders)) or 'none'}), not exactly one"
        )
    elif not leaders <= ids:
        problems.append(f"etcd's leader {leaders.pop()} is not a member")
    return problems
