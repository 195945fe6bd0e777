"""``gauntlet run`` options of the conformance profile, and what they set.

``--mode certified`` runs [Disruptive] specs (nodes tainted, evicted), so
it makes the profile destructive: the usual opt-in naming the target and
the protected mark apply. The lab pulls nothing, so a run on it sets
aside specs whose image no node holds, as ``--no-pull`` asks for any
air-gapped cluster.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Mapping

from gauntlet.checks.conformance.specs import (
    MODE_ENV,
    NO_PULL_ENV,
    PROCS_ENV,
    SKIP_ENV,
)
from gauntlet.conformance.binary import ensure_e2e
from gauntlet.conformance.modes import (
    DEFAULT_MODE,
    MODES,
    check_mode,
    selection,
)
from gauntlet.errors import Unobservable, UsageError
from gauntlet.profiles import ProfileSpec

__all__ = [
    "add_conformance_arguments",
    "conformance_environment",
    "conformance_profile",
    "prepare_conformance",
]

PROFILE = "conformance"


def add_conformance_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("conformance profile")
    group.add_argument(
        "--mode",
        metavar="MODE",
        help=f"{', '.join(MODES)} (default {DEFAULT_MODE}); certified runs "
        "[Disruptive] specs and needs --allow-destructive",
    )
    group.add_argument(
        "--procs",
        type=int,
        metavar="N",
        help="ginkgo processes running specs in parallel (default 1)",
    )
    group.add_argument(
        "--skip-spec",
        action="append",
        default=[],
        metavar="NAME",
        help="a spec not to run, by its full name (repeatable); listed "
        "in the report as skipped by you",
    )
    group.add_argument(
        "--no-pull",
        action="store_true",
        help="the cluster pulls no images: specs whose image no node holds "
        "are not run (listed with the image); implied on the lab",
    )


def conformance_profile(
    profile: ProfileSpec, args: argparse.Namespace
) -> ProfileSpec:
    """``profile``, destructive when ``--mode certified`` asks for
    [Disruptive] specs.

    Raises:
        UsageError: a conformance option with another profile, an unknown
            mode or a process count below 1.
    """
    given = [
        flag
        for flag, value in (
            ("--mode", args.mode),
            ("--procs", args.procs),
            ("--no-pull", args.no_pull or None),
            ("--skip-spec", args.skip_spec or None),
        )
        if value is not None
    ]
    if profile.name != PROFILE:
        if given:
            raise UsageError(
                f"{', '.join(given)}: only for --profile {PROFILE}"
            )
        return profile
    if args.procs is not None and args.procs < 1:
        raise UsageError(f"--procs {args.procs}: at least 1 process")
    mode = check_mode(args.mode or DEFAULT_MODE)
    if selection(mode).destructive:
        if not getattr(args, "allow_destructive", None):
            raise UsageError(
                f"--mode {mode} runs [Disruptive] specs (nodes tainted, "
                "pods evicted): pass --allow-destructive <context> naming "
                "the target cluster"
            )
        return dataclasses.replace(profile, destructive=True)
    return profile


def conformance_environment(
    args: argparse.Namespace,
    profile: ProfileSpec,
    lab: bool,
    lab_differences: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The suite's settings for a conformance run (empty otherwise).
    ``lab_differences``: specs the lab's own images cannot pass, with
    why (the lab says so of itself; the suite knows no lab)."""
    if profile.name != PROFILE:
        return {}
    env: dict[str, str] = {MODE_ENV: check_mode(args.mode or DEFAULT_MODE)}
    if args.procs is not None:
        env[PROCS_ENV] = str(args.procs)
    if args.no_pull or lab:
        env[NO_PULL_ENV] = "1"
    skips = {name: "skipped with --skip-spec" for name in args.skip_spec}
    if lab:
        skips.update(lab_differences or {})
    if skips:
        env[SKIP_ENV] = json.dumps(skips, sort_keys=True)
    return env


def prepare_conformance(profile: ProfileSpec, server_version: str) -> None:
    """Build the e2e binary of the server's release before pytest starts,
    where its progress shows (a cold build takes minutes); the suite
    then finds it cached. A version naming no release is left to the
    suite, which reports CONF-01 unobserved with the reason.

    Raises:
        BuildError: the build failed (exit 2, naming the log).
    """
    if profile.name != PROFILE:
        return
    try:
        ensure_e2e(server_version)
    except Unobservable:
        return
