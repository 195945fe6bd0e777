"""ARCH-11: the control plane is highly available.

Three parts:

control-plane nodes
    at least 3; fewer fails in the ``production`` HA profile and is a
    warning in ``dev`` (``KUBE_GAUNTLET_HA_PROFILE``, default
    ``production``);
etcd members
    from etcdctl on a control-plane node (see ``gauntlet.observe.etcd``):
    the voting members (learners are counted apart and reported, never
    as votes) are odd in number and tolerate at least one failure,
    (n-1)/2 >= 1, unless the profile is ``dev``; every member is healthy
    (an added member that never started counts as unhealthy);
etcd leader
    exactly one leader, agreed on by the members, and a member itself.

A one-member etcd behind three API servers is a single point of failure
however many masters there are: its failure tolerance is 0.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster.discovery import NO_CONTROL_PLANE_NODE
from gauntlet.errors import UsageError
from gauntlet.observe.etcd import Member

STEP = "the control plane is highly available"
ENV_PROFILE = "KUBE_GAUNTLET_HA_PROFILE"
TOPOLOGIES = ("production", "dev")
MIN_CONTROL_PLANES = 3
MIN_FAILURE_TOLERANCE = 1
CONTROL_PLANES = "control-plane nodes"
MEMBERS = "etcd members"
LEADER = "etcd leader"
PARTS = (CONTROL_PLANES, MEMBERS, LEADER)


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


@dataclass(frozen=True)
class MembersJudgement:
    """What etcd's member list says about availability."""

    voting: tuple[Member, ...]
    learners: tuple[Member, ...]
    findings: tuple[str, ...]
    warnings: tuple[str, ...]
    """Shortfalls the dev profile tolerates."""

    @property
    def failure_tolerance(self) -> int:
        """Voting members that may fail with a quorum left."""
        return max(len(self.voting) - 1, 0) // 2


def judge_members(members: Sequence[Member], profile: str) -> MembersJudgement:
    """Odd voting membership, tolerance of at least one failure (outside
    the dev profile) and every member healthy; learners never vote."""
    voting = tuple(m for m in members if not m.learner)
    learners = tuple(m for m in members if m.learner)
    size = len(voting)
    tolerance = max(size - 1, 0) // 2
    findings: list[str] = []
    shortfalls: list[str] = []
    names = ", ".join(m.label for m in voting) or "none"
    if size % 2 == 0:
        findings.append(
            f"etcd has an even number of voting members ({size}: {names})"
        )
    if tolerance < MIN_FAILURE_TOLERANCE:
        plus = f" (+{len(learners)} learner(s))" if learners else ""
        shortfall = (
            f"etcd has {size} voting member{'' if size == 1 else 's'}"
            f"{plus}, failure tolerance {tolerance}: losing one member "
            f"stops writes ({names}; {profile} profile)"
        )
        (shortfalls if profile == "dev" else findings).append(shortfall)
    for m in members:
        if not m.healthy:
            findings.append(f"etcd member {m.label} is unhealthy: {m.error}")
    return MembersJudgement(
        voting, learners, tuple(findings), tuple(shortfalls)
    )


def leader_findings(members: Sequence[Member]) -> list[str]:
    """Exactly one leader reported, and it is a member."""
    ids = {m.member_id for m in members}
    leaders = {m.leader_id for m in members if m.leader_id}
    if len(leaders) != 1:
        return [
            f"etcd members report {len(leaders)} leaders "
            f"({', '.join(sorted(leaders)) or 'none'}), not exactly one"
        ]
    if not leaders <= ids:
        return [f"etcd's leader {leaders.pop()} is not a member"]
    return []


def check_control_plane_is_highly_available(ctx: CheckContext) -> None:
    """Enough control-plane nodes; etcd odd, tolerant, healthy, one leader.

    Raises:
        GuaranteeViolated: naming the control-plane count, the etcd member
            count and failure tolerance, each unhealthy member or the
            leaders seen.
        CheckSkipped: neither the control plane nor etcd is visible.
        UsageError: ``KUBE_GAUNTLET_HA_PROFILE`` is not a known profile.
    """
    profile = ha_profile()
    with ctx.part(CONTROL_PLANES) as part:
        for text in _control_plane_findings(ctx, profile):
            part.finding(text)
    members: list[Member] | None = None
    with ctx.part(MEMBERS) as part:
        members = ctx.etcd("member list").members()
        judged = judge_members(members, profile)
        _report(ctx, members, judged)
        for text in judged.warnings:
            _warn(ctx, text)
        for text in judged.findings:
            part.finding(text)
    if members is None:
        ctx.unobserved(LEADER, f"no member list: {ctx.parts[-1].reason}")
    else:
        with ctx.part(LEADER) as part:
            leaders = {m.leader_id for m in members if m.leader_id}
            ctx.measure("etcd leaders", len(leaders), "leaders", bound=1)
            for text in leader_findings(members):
                part.finding(text)
    ctx.conclude(STEP)


def _control_plane_findings(ctx: CheckContext, profile: str) -> list[str]:
    count = len(ctx.topology.control_planes)
    if count == 0:
        raise CheckSkipped(NO_CONTROL_PLANE_NODE)
    ctx.measure("control-plane nodes", count, "nodes")
    if count >= MIN_CONTROL_PLANES:
        return []
    shortfall = (
        f"{count} control-plane node(s), fewer than {MIN_CONTROL_PLANES}"
        f" ({profile} profile)"
    )
    if profile == "production":
        return [shortfall]
    _warn(ctx, shortfall)
    return []


def _warn(ctx: CheckContext, text: str) -> None:
    ctx.evidence("HA warning", text)
    warnings.warn(f"{STEP}: {text}", HaWarning, stacklevel=3)


def _report(
    ctx: CheckContext, members: list[Member], judged: MembersJudgement
) -> None:
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
    ctx.measure("etcd voting members", len(judged.voting), "members")
    ctx.measure("etcd learners", len(judged.learners), "members")
    ctx.measure(
        "etcd failure tolerance",
        judged.failure_tolerance,
        "members",
    )
