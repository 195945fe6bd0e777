"""Profiles: which suites a run selects, and whether it breaks things.

Non-destructive profiles also exclude ``disruptive`` tests by marker, so
a disruptive test that lands in the wrong directory still cannot run
without ``--allow-destructive``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gauntlet.catalogue import Profile
from gauntlet.errors import UsageError

__all__ = ["PROFILES", "ProfileSpec", "get_profile"]


@dataclass(frozen=True)
class ProfileSpec:
    """One profile: its suites, marker expression and risk."""

    name: Profile
    description: str
    paths: tuple[str, ...]
    """Suite directories, relative to the project root."""
    markers: str
    """A pytest ``-m`` expression; empty selects everything."""
    destructive: bool
    """Kills, stops, partitions or overloads: needs explicit opt-in."""


PROFILES: dict[str, ProfileSpec] = {
    spec.name: spec
    for spec in (
        ProfileSpec(
            "gate",
            "architecture checks, fast and safe on any readable cluster",
            ("suites/arch",),
            "not disruptive",
            destructive=False,
        ),
        ProfileSpec(
            "gameday",
            "resilience and partition drills: kills, stops, partitions",
            ("suites/chaos",),
            "",
            destructive=True,
        ),
        ProfileSpec(
            "preupgrade",
            "is the cluster safe to upgrade to --target-version: skew, "
            "removed APIs, a restored etcd backup, drains, a baseline "
            "(--rehearse also runs the upgrade while a workload serves)",
            ("suites/upg",),
            "not disruptive",
            destructive=False,
        ),
        ProfileSpec(
            "postupgrade",
            "what changed since a preupgrade run's baseline (--baseline)",
            ("suites/postupgrade",),
            "not disruptive",
            destructive=False,
        ),
        ProfileSpec(
            "load",
            "API server load up to overload, and chaos under load",
            ("suites/load",),
            "",
            destructive=True,
        ),
        ProfileSpec(
            "conformance",
            "the upstream [Conformance] specs of the cluster's version "
            "(--mode quick|non-disruptive|certified)",
            ("suites/conformance",),
            "not disruptive",
            destructive=False,
        ),
    )
}


def get_profile(name: str) -> ProfileSpec:
    """The profile called ``name``.

    Raises:
        UsageError: no such profile; the message lists them.
    """
    spec = PROFILES.get(name)
    if spec is None:
        raise UsageError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}"
        )
    return spec
