"""``gauntlet run`` options of the preupgrade and postupgrade profiles.

``--target-version`` is required for preupgrade and checked twice: its
form before anything reaches the cluster, then against the server's
version (a downgrade, another major version or the version it already
runs stop the run with exit 2). Skipping minors is not refused here:
it is what UPG-01 reports, naming the minors skipped.

``--rehearse`` adds UPG-06, which upgrades the cluster while a workload
serves: the profile becomes destructive and needs the opt-in naming the
target. On the lab the upgrade is ``gauntlet lab upgrade --to``; on any
other cluster it is the user's own ``--upgrade-command``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import shutil
import sys
from pathlib import Path

from gauntlet.checks.upg.baseline import load_baseline
from gauntlet.checks.upg.settings import (
    BASELINE_ENV,
    KEEP_SNAPSHOT_ENV,
    TARGET_VERSION_ENV,
    UPGRADE_COMMAND_ENV,
)
from gauntlet.errors import UsageError
from gauntlet.kube_version import KubeVersion, parse_version
from gauntlet.profiles import ProfileSpec

__all__ = [
    "add_upgrade_arguments",
    "check_target_against_server",
    "upgrade_environment",
    "upgrade_profile",
]

PRE, POST = "preupgrade", "postupgrade"


def add_upgrade_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("preupgrade and postupgrade profiles")
    group.add_argument(
        "--target-version",
        metavar="vX.Y.Z",
        help="preupgrade (required): the version the cluster is to be "
        "upgraded to",
    )
    group.add_argument(
        "--keep-snapshot",
        type=Path,
        metavar="DIR",
        help="preupgrade: keep UPG-03's etcd snapshot in DIR (default: "
        "removed after the restore drill)",
    )
    group.add_argument(
        "--rehearse",
        action="store_true",
        help="preupgrade: also run the upgrade (UPG-06) while a workload "
        "serves; changes the cluster, needs --allow-destructive",
    )
    group.add_argument(
        "--upgrade-command",
        metavar="CMD",
        help="with --rehearse: the shell command that upgrades the cluster "
        "(on the lab: gauntlet lab upgrade --to <target>)",
    )
    group.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="postupgrade (required): the baseline.json a preupgrade run "
        "saved in its report directory",
    )


def upgrade_profile(
    profile: ProfileSpec, args: argparse.Namespace, lab: bool
) -> ProfileSpec:
    """``profile`` with every upgrade option checked; destructive and with
    the disruptive UPG-06 selected when ``--rehearse`` asks for it.

    Raises:
        UsageError: an option of another profile, a missing or malformed
            target version, a missing baseline, an unusable snapshot
            directory, or a rehearsal without the opt-in or a command.
    """
    pre_only = [
        flag
        for flag, value in (
            ("--target-version", args.target_version),
            ("--keep-snapshot", args.keep_snapshot),
            ("--rehearse", args.rehearse or None),
            ("--upgrade-command", args.upgrade_command),
        )
        if value is not None
    ]
    if profile.name != PRE and pre_only:
        raise UsageError(f"{', '.join(pre_only)}: only for --profile {PRE}")
    if profile.name != POST and args.baseline is not None:
        raise UsageError(f"--baseline: only for --profile {POST}")
    if profile.name == POST:
        _check_baseline(args.baseline)
        return profile
    if profile.name != PRE:
        return profile
    if not args.target_version:
        raise UsageError(
            "--profile preupgrade needs --target-version vX.Y.Z: the "
            "version the cluster is to be upgraded to"
        )
    parse_version(args.target_version, "--target-version")
    if args.keep_snapshot is not None:
        _check_directory(args.keep_snapshot)
    if args.upgrade_command and not args.rehearse:
        raise UsageError("--upgrade-command: only with --rehearse")
    if not args.rehearse:
        return profile
    if not getattr(args, "allow_destructive", None):
        raise UsageError(
            "--rehearse upgrades the cluster while a workload serves: pass "
            "--allow-destructive <context> naming the target cluster"
        )
    if not lab and not args.upgrade_command:
        raise UsageError(
            "--rehearse on your cluster needs --upgrade-command CMD: the "
            "command that upgrades it (gauntlet upgrades only its own lab)"
        )
    return dataclasses.replace(profile, markers="", destructive=True)


def check_target_against_server(
    args: argparse.Namespace, profile: ProfileSpec, server_version: str
) -> KubeVersion | None:
    """The target version, once it is an upgrade of ``server_version``.

    Raises:
        UsageError: a downgrade, the version the server already runs, or
            another major version.
    """
    if profile.name != PRE:
        return None
    target = parse_version(args.target_version, "--target-version")
    try:
        server = parse_version(server_version, "the server's version")
    except UsageError:
        return target  # a version naming no release: UPG-01 says so
    if target.major != server.major:
        raise UsageError(
            f"--target-version {target}: the cluster runs {server}; "
            "gauntlet prepares upgrades within one major version"
        )
    if target < server:
        raise UsageError(
            f"--target-version {target} is a downgrade: the cluster runs "
            f"{server} (Kubernetes does not support downgrades)"
        )
    if target == server:
        raise UsageError(
            f"--target-version {target}: the cluster already runs it"
        )
    return target


def upgrade_environment(
    args: argparse.Namespace,
    profile: ProfileSpec,
    lab_releases: tuple[str, ...] | None,
) -> dict[str, str]:
    """The suites' settings for an upgrade profile (empty otherwise).
    ``lab_releases``: the releases a lab target can be upgraded to
    (None when the target is not the lab).

    Raises:
        UsageError: a lab rehearsal to a release the lab cannot run.
    """
    if profile.name == POST:
        return {BASELINE_ENV: str(args.baseline.resolve())}
    if profile.name != PRE:
        return {}
    target = parse_version(args.target_version, "--target-version")
    env = {TARGET_VERSION_ENV: str(target)}
    if args.keep_snapshot is not None:
        env[KEEP_SNAPSHOT_ENV] = str(args.keep_snapshot.resolve())
    if args.rehearse:
        env[UPGRADE_COMMAND_ENV] = args.upgrade_command or _lab_upgrade(
            str(target), lab_releases or ()
        )
    return env


def _lab_upgrade(target: str, releases: tuple[str, ...]) -> str:
    if target not in releases:
        raise UsageError(
            f"--target-version {target}: the lab can run {', '.join(releases)}"
        )
    beside = Path(sys.executable).parent / "gauntlet"
    found = str(beside) if beside.is_file() else shutil.which("gauntlet")
    if found is None:
        raise UsageError("--rehearse: the gauntlet command is not on PATH")
    return f"{shlex.quote(found)} lab upgrade --to {shlex.quote(target)}"


def _check_baseline(path: Path | None) -> None:
    if path is None:
        raise UsageError(
            "--profile postupgrade needs --baseline FILE: the baseline.json "
            "of a preupgrade run (reports/<run id>/baseline.json)"
        )
    if not path.is_file():
        raise UsageError(f"--baseline {path}: no such file")
    load_baseline(path)  # a file that is no baseline stops the run here


def _check_directory(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--keep-snapshot {path}: {exc.strerror}") from exc
    if not path.is_dir():
        raise UsageError(f"--keep-snapshot {path}: not a directory")
