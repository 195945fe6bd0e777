"""``gauntlet run``: check a cluster against one profile's guarantees.

Order matters: profile, target and the destructive opt-in are checked
before anything reaches the cluster; then connect (clear errors), discover
the topology for the report, and run pytest in a child process.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from gauntlet import progress
from gauntlet.backends import KINDS
from gauntlet.cli.conformance_args import (
    add_conformance_arguments,
    conformance_environment,
    conformance_profile,
    prepare_conformance,
)
from gauntlet.cli.images_cmd import add_image_repo_argument
from gauntlet.cli.lab_target import DEFAULT_SHAPE, boot_or_reuse_lab
from gauntlet.cli.load_args import add_load_arguments, load_environment
from gauntlet.cli.notify_args import add_notify_args, notify_settings
from gauntlet.cli.pytest_runner import (
    PYTEST_EXIT_NAMES,
    PYTEST_FAILED,
    PYTEST_INTERRUPTED,
    PYTEST_NO_TESTS,
    PYTEST_OK,
    RunFiles,
    collect,
    pytest_base,
    run_pytest,
)
from gauntlet.cli.targeting import (
    Target,
    add_kubeconfig_arguments,
    add_node_access_argument,
    check_target_destructive,
    resolve_node_access,
    resolve_target,
)
from gauntlet.cli.upgrade_args import (
    add_upgrade_arguments,
    check_target_against_server,
    upgrade_environment,
    upgrade_profile,
)
from gauntlet.cluster.client import ENV_IN_CLUSTER, connect
from gauntlet.cluster.discovery import ClusterTopology, discover
from gauntlet.config import load_profile, profile_environment
from gauntlet.errors import UsageError
from gauntlet.exit_codes import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATED,
)
from gauntlet.images import IMAGE_REPO_ENV, check_repo, run_images
from gauntlet.lab.spec_images import LAB_SPEC_DIFFERENCES
from gauntlet.lab.versions import RELEASES
from gauntlet.profiles import PROFILES, ProfileSpec, get_profile
from gauntlet.project import project_root, reports_root
from gauntlet.reporting.environment import write_environment
from gauntlet.reporting.notify import notify_run
from gauntlet.runid import RUN_ID_ENV, new_run_id
from gauntlet.safety import check_opt_in

__all__ = [
    "add_parser",
    "requested_image_repo",
    "requested_node_access",
    "run",
]

NODE_ACCESS_ENV = "KUBE_GAUNTLET_NODE_ACCESS"


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    run_p = sub.add_parser(
        "run",
        help="check a cluster against a profile's guarantees",
        description="Without --kubeconfig, --context or $KUBECONFIG the "
        "target is the built-in lab: booted when none is up, else checked "
        "as it is (never rebuilt).",
    )
    run_p.add_argument(
        "--profile", required=True, help=", ".join(PROFILES) + " (required)"
    )
    add_kubeconfig_arguments(run_p)
    run_p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="cluster profile (docs/config.md); environment variables "
        "override its values",
    )
    run_p.add_argument(
        "--lab", action="store_true", help="target the built-in lab cluster"
    )
    run_p.add_argument(
        "--allow-destructive",
        metavar="CONTEXT",
        help="opt in to a destructive profile by naming the target context",
    )
    run_p.add_argument(
        "--strict",
        action="store_true",
        help="fail a guarantee whose parts were not all observed (CI "
        "gating: full coverage or nothing)",
    )
    run_p.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k")
    run_p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the tests and the faults each would inject; no cluster",
    )
    run_p.add_argument(
        "--control-planes",
        type=int,
        help="shape of a lab to boot (default 3); a lab of another shape "
        "that is up is refused, never rebuilt",
    )
    run_p.add_argument(
        "--workers", type=int, help="shape of a lab to boot (default 2)"
    )
    add_node_access_argument(run_p)
    add_image_repo_argument(
        run_p, f"${IMAGE_REPO_ENV}, else the --config file's images.repo"
    )
    add_conformance_arguments(run_p)
    add_upgrade_arguments(run_p)
    add_load_arguments(run_p)
    add_notify_args(run_p)
    run_p.add_argument(
        "--screenshot",
        action="store_true",
        help="also save a PNG of the HTML report as report.png in the "
        "run's directory (headless Chromium; a warning if it fails)",
    )
    run_p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    notify = notify_settings(args)  # a bad URL is exit 2 before anything
    profile = conformance_profile(get_profile(args.profile), args)
    settings = load_profile(args.config) if args.config else {}
    image_repo = requested_image_repo(args.image_repo, settings, os.environ)
    target = resolve_target(args)
    profile = upgrade_profile(profile, args, target.lab)
    load_env = load_environment(args, profile)
    node_access = resolve_node_access(
        requested_node_access(args.node_access, settings, os.environ), target
    )
    if not args.dry_run:
        check_opt_in(profile, target.context, args.allow_destructive)
    project = project_root()
    paths = _suite_paths(project, profile)
    base = pytest_base(paths, profile.markers, args.keyword)
    if args.dry_run:
        return _dry_run(project, base, profile, target)
    if target.boot:
        target = boot_or_reuse_lab(_shape(args))
    if profile.destructive:
        check_target_destructive(profile, target, args.allow_destructive)
    run_id = new_run_id()
    files = RunFiles(reports_root() / run_id)
    topology = _describe_cluster(target, files)
    check_target_against_server(args, profile, topology.server_version)
    prepare_conformance(profile, topology.server_version)
    argv = [
        *base,
        "--alluredir",
        str(files.allure_results),
        "--junitxml",
        str(files.junit),
        "--gauntlet-summary",
        str(files.summary),
        "--gauntlet-run-id",
        run_id,
        "--gauntlet-context",
        target.context,
        "--gauntlet-profile",
        profile.name,
        "--gauntlet-stop-reason",
        str(files.stop_reason),
        *(["--gauntlet-strict"] if args.strict else []),
    ]
    env = {
        **_from_profile(args.config, settings),
        **_environment(target, run_id, node_access),
        **conformance_environment(
            args, profile, target.lab, LAB_SPEC_DIFFERENCES
        ),
        **upgrade_environment(
            args, profile, tuple(RELEASES) if target.lab else None
        ),
        **load_env,
    }
    if image_repo:
        env[IMAGE_REPO_ENV] = image_repo
        uses = run_images(image_repo, {**os.environ, **env})
        pulled = ", ".join(u.image for u in uses)
        progress.say(f"image repo {image_repo}: test images {pulled}")
    if profile.destructive:
        env["KUBE_GAUNTLET_ALLOW_DESTRUCTIVE"] = target.context
    progress.say(f"run {run_id}: profile {profile.name} on {target.context}")
    try:
        code = run_pytest(project, argv, env)
    except KeyboardInterrupt:
        notify_run(
            notify, files.root, EXIT_INTERRUPTED, profile.name, target.context
        )
        raise
    _report(files, screenshot=args.screenshot)
    stopped = _stop_reason(files)
    if stopped:
        print(f"gauntlet: error: {stopped}", file=sys.stderr)
    result = EXIT_USAGE if stopped else _exit_code(code, profile)
    notify_run(notify, files.root, result, profile.name, target.context)
    return result


def _suite_paths(project: Path, profile: ProfileSpec) -> list[str]:
    paths = [p for p in profile.paths if (project / p).is_dir()]
    if not paths:
        raise UsageError(
            f"profile {profile.name} has no suites yet (expected "
            f"{', '.join(profile.paths)} under {project})"
        )
    return paths


def requested_node_access(
    flag: str | None, settings: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """``--node-access``, else the environment, else the profile file.

    Raises:
        UsageError: the environment names no known kind.
    """
    if flag:
        return flag
    from_env = environ.get(NODE_ACCESS_ENV)
    if from_env and from_env not in KINDS:
        raise UsageError(
            f"{NODE_ACCESS_ENV}={from_env!r}: choose one of {', '.join(KINDS)}"
        )
    return from_env or settings.get(NODE_ACCESS_ENV)


def requested_image_repo(
    flag: str | None, settings: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """``--image-repo``, else the environment, else the profile file;
    checked so a bad mirror stops the run before it starts.

    Raises:
        UsageError: the mirror is not registry[:port][/path], naming
            where it came from.
    """
    for source, value in (
        ("--image-repo", flag),
        (IMAGE_REPO_ENV, environ.get(IMAGE_REPO_ENV)),
        ("images.repo", settings.get(IMAGE_REPO_ENV)),
    ):
        if value:
            return check_repo(value, source)
    return None


def _shape(args: argparse.Namespace) -> tuple[int, int] | None:
    """The lab shape named on the command line, if any was."""
    if args.control_planes is None and args.workers is None:
        return None
    control_planes, workers = DEFAULT_SHAPE
    return (
        control_planes if args.control_planes is None else args.control_planes,
        workers if args.workers is None else args.workers,
    )


def _from_profile(
    path: Path | None, settings: Mapping[str, str]
) -> dict[str, str]:
    """The profile's variables for the run; say which the env overrides."""
    env = profile_environment(settings, os.environ)
    if path is not None:
        overridden = sorted(set(settings) - set(env))
        progress.say(
            f"config {path}: {len(settings)} setting(s)"
            + (
                f"; the environment overrides {', '.join(overridden)}"
                if overridden
                else ""
            )
        )
    return env


# What every profile needs before a test may start; checked up front so a
# run without them stops with one line instead of failing test by test.
REQUIRED_PERMISSIONS = (
    ("list", "nodes", ""),
    ("list", "pods", ""),
    ("create", "namespaces", ""),
    ("delete", "namespaces", ""),
    ("create", "pods", ""),
    ("create", "pods/exec", ""),
    ("create", "deployments", "apps"),
    ("create", "services", ""),
    ("list", "leases", "coordination.k8s.io"),
)


def _describe_cluster(target: Target, files: RunFiles) -> ClusterTopology:
    """Connect (the clear errors live there), check RBAC, record topology."""
    cluster = connect(target.cluster)
    try:
        for verb, resource, group in REQUIRED_PERMISSIONS:
            cluster.require(verb, resource, group)
        with progress.step("Discovering the cluster", heartbeat=False):
            topology = discover(cluster)
    finally:
        cluster.close()
    progress.say(
        f"{topology.distribution}, control plane {topology.control_plane_mode}"
        f", {len(topology.control_planes)} control-plane and "
        f"{len(topology.workers)} worker nodes"
    )
    for note in topology.notes:
        progress.say(f"  not visible: {note}")
    write_environment(files.allure_results, topology.to_environment())
    return topology


def _environment(
    target: Target, run_id: str, node_access: str
) -> dict[str, str]:
    env = {
        "KUBE_GAUNTLET_CONTEXT": target.context,
        NODE_ACCESS_ENV: node_access,
        RUN_ID_ENV: run_id,
    }
    if target.cluster.in_cluster:
        env[ENV_IN_CLUSTER] = "1"
    else:
        env["KUBE_GAUNTLET_KUBECONFIG"] = str(target.cluster.kubeconfig_path)
    if target.lab:
        env["KUBE_GAUNTLET_LAB"] = "1"
    return env


def _dry_run(
    project: Path, base: list[str], profile: ProfileSpec, target: Target
) -> int:
    tests = collect(project, base)
    if not tests:
        print(
            f"gauntlet: no tests selected for profile {profile.name}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    risk = "destructive" if profile.destructive else "non-destructive"
    print(
        f"profile {profile.name} ({risk}) on {target.context}: "
        f"{len(tests)} tests"
    )
    for test in tests:
        traits = f" [{', '.join(test.traits)}]" if test.traits else ""
        print(f"{test.nodeid}  {test.guarantee or '-'}{traits}")
        for fault in test.faults:
            print(f"    fault: {fault}")
    if profile.destructive:
        print(f"a real run needs --allow-destructive {target.context}")
    return EXIT_OK


def _report(files: RunFiles, *, screenshot: bool = False) -> None:
    from gauntlet.reporting.html import generate_html
    from gauntlet.reporting.screenshot import try_screenshot
    from gauntlet.reporting.timelines_page import TIMELINES_PAGE

    index = generate_html(files.allure_results, files.html)
    png = None
    if screenshot and index is not None:
        png = try_screenshot(index, files.screenshot)
    elif screenshot:
        progress.say("no HTML report, so no screenshot of it")
    timelines = files.root / TIMELINES_PAGE
    if screenshot and timelines.is_file():
        try_screenshot(timelines, timelines.with_suffix(".png"))
    print(f"results: {files.root}")
    if files.summary.is_file():
        print(f"summary: {files.summary}")
    if index is not None:
        print(f"report: {index}")
    if timelines.is_file():
        print(f"timelines: {timelines}")
    if png is not None:
        print(f"screenshot: {png}")


def _stop_reason(files: RunFiles) -> str:
    """Why a test stopped the run (credentials refused), or empty."""
    if not files.stop_reason.is_file():
        return ""
    lines = files.stop_reason.read_text("utf-8").strip().splitlines()
    return lines[0] if lines else "the run was stopped without a reason"


def _exit_code(code: int, profile: ProfileSpec) -> int:
    """pytest's exit code as gauntlet's; anything odd is a usage error."""
    if code == PYTEST_OK:
        return EXIT_OK
    if code == PYTEST_FAILED:
        return EXIT_VIOLATED
    if code == PYTEST_INTERRUPTED:
        print("gauntlet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if code == PYTEST_NO_TESTS:
        message = f"no tests selected for profile {profile.name}"
    else:
        why = PYTEST_EXIT_NAMES.get(code, "unexpected exit")
        message = f"pytest ended with code {code} ({why}): see its output"
    print(f"gauntlet: error: {message}", file=sys.stderr)
    return EXIT_USAGE
