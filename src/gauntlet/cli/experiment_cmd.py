"""``gauntlet experiment run FILE``: one Chaos Toolkit experiment.

The same gate as the gameday profile: the file is validated, then the
destructive opt-in and the cluster's ``protected`` mark are checked
before anything reaches the cluster. The journal lands in
``reports/<run-id>/journal.json``.

Exit codes: 0 the experiment held, 1 it failed (steady state not met
before the method, deviated after it, or an activity or rollback
failed), 2 usage, 130 interrupted (after rolling back).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gauntlet import progress
from gauntlet.chaos.runner import load_experiment_file, run_experiment_file
from gauntlet.cli.targeting import (
    add_kubeconfig_arguments,
    add_node_access_argument,
    check_target_destructive,
    resolve_node_access,
    resolve_target,
)
from gauntlet.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATED
from gauntlet.profiles import get_profile
from gauntlet.project import reports_root
from gauntlet.runid import new_run_id
from gauntlet.safety import check_opt_in

__all__ = ["add_parser", "run"]

PROFILE = "gameday"


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    exp = sub.add_parser(
        "experiment", help="run a Chaos Toolkit experiment (experiments/)"
    )
    cmds = exp.add_subparsers(dest="experiment_command", required=True)
    run_p = cmds.add_parser(
        "run",
        help="validate and run one experiment file",
        description="Without --kubeconfig, --context or $KUBECONFIG the "
        "target is the built-in lab (it must be up).",
    )
    run_p.add_argument("file", type=Path, help="experiment JSON file")
    add_kubeconfig_arguments(run_p)
    run_p.add_argument(
        "--allow-destructive",
        metavar="CONTEXT",
        help="opt in by naming the target context (experiments break things)",
    )
    run_p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and list the activities; contact no cluster",
    )
    add_node_access_argument(run_p)
    exp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    experiment = load_experiment_file(args.file)
    args.lab = False
    target = resolve_target(args)
    node_access = resolve_node_access(args.node_access, target)
    if args.dry_run:
        _describe(args.file, experiment, target.context)
        return EXIT_OK
    profile = get_profile(PROFILE)
    check_opt_in(profile, target.context, args.allow_destructive)
    check_target_destructive(profile, target, args.allow_destructive)
    run_id = new_run_id()
    report_dir = reports_root() / run_id
    progress.say(
        f"experiment {args.file.name}: run {run_id} on {target.context}"
    )
    result = run_experiment_file(
        args.file, target.cluster, run_id, report_dir, node_access
    )
    print(f"journal: {result.journal}")
    if result.verdict == "interrupted":
        print("gauntlet: interrupted; faults rolled back", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.verdict == "failed":
        for reason in result.reasons:
            print(f"FAILED: {reason}")
        return EXIT_VIOLATED
    print(f"passed: {experiment['title']}")
    return EXIT_OK


def _describe(path: Path, experiment: dict[str, object], context: str) -> None:
    print(f"{path.name}: {experiment['title']} (valid) on {context}")
    sections = (
        ("steady state", _probes(experiment)),
        ("method", experiment.get("method")),
        ("rollbacks", experiment.get("rollbacks")),
    )
    for title, activities in sections:
        print(f"  {title}:")
        for activity in activities if isinstance(activities, list) else []:
            provider = activity.get("provider", {})
            where = f"{provider.get('module', '')}.{provider.get('func', '')}"
            print(f"    {activity.get('type')} {activity.get('name')}: {where}")
    print(f"a real run needs --allow-destructive {context}")


def _probes(experiment: dict[str, object]) -> list[object]:
    hypothesis = experiment.get("steady-state-hypothesis")
    if isinstance(hypothesis, dict):
        return list(hypothesis.get("probes") or [])
    return []
