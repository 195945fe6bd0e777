"""``gauntlet guarantees`` and ``gauntlet recover`` (``gauntlet report``
lives in ``report_cmd``)."""

from __future__ import annotations

import argparse
import json
import re

from gauntlet.catalogue import load_catalogue
from gauntlet.cli.pytest_runner import collect, pytest_base
from gauntlet.errors import UsageError
from gauntlet.exit_codes import EXIT_OK, EXIT_VIOLATED
from gauntlet.project import project_root

__all__ = ["add_parser"]

SUITES = "suites"
_FAILED_RUN = re.compile(r"failed: run (\S+?): ")


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    cat = sub.add_parser(
        "guarantees", help="the guarantee catalogue and the tests per ID"
    )
    cat.add_argument("--json", action="store_true", help="machine-readable")
    cat.set_defaults(func=guarantees)
    rec = sub.add_parser(
        "recover",
        help="roll back the faults of crashed runs and remove what they "
        "created (from the fault ledger)",
    )
    rec.add_argument(
        "--run",
        dest="runs",
        action="append",
        metavar="RUN_ID",
        help="only this run's ledger (repeatable); default: every dead run",
    )
    rec.add_argument(
        "--forget",
        action="append",
        metavar="RUN_ID",
        help="close this dead run's open entries without undoing them, "
        "when its cluster is gone for good (repeatable)",
    )
    rec.set_defaults(func=recover)


def guarantees(args: argparse.Namespace) -> int:
    """Print every guarantee with the tests that cover it."""
    project = project_root()
    tests = collect(project, pytest_base([SUITES], "", None))
    covering: dict[str, list[str]] = {}
    for test in tests:
        if test.guarantee:
            covering.setdefault(test.guarantee, []).append(test.nodeid)
    catalogue = load_catalogue()
    if args.json:
        rows = [
            {
                "id": g.id,
                "profile": g.profile,
                "claim": g.claim,
                "tests": covering.get(g.id, []),
            }
            for g in catalogue
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for g in catalogue:
        count = len(covering.get(g.id, []))
        print(f"{g.id:<8} {g.profile:<10} {count:>2} tests  {g.claim}")
        for nodeid in covering.get(g.id, []):
            print(f"{'':<22}{nodeid}")
    uncovered = [g.id for g in catalogue if g.id not in covering]
    print(f"{len(catalogue) - len(uncovered)}/{len(catalogue)} covered")
    return EXIT_OK


def recover(args: argparse.Namespace) -> int:
    """Undo what dead runs left open, newest first: faults, and what they
    created (namespaces, ledger mirrors, helper pods); ``EXIT_VIOLATED``
    if one failed. ``--forget`` closes a run's entries instead."""
    from gauntlet import backends
    from gauntlet.faults.journal import forget
    from gauntlet.faults.ledger import ledger_dir
    from gauntlet.faults.ledger import recover as replay

    directory = ledger_dir()
    if args.forget:
        if args.runs:
            raise UsageError("--forget and --run: give one of them")
        for run_id in args.forget:
            try:
                closed = forget(run_id, "gauntlet recover --forget", directory)
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
            for entry in closed:
                print(f"forgotten: run {run_id}: {entry.description}")
            if not closed:
                print(f"run {run_id}: nothing open")
        return EXIT_OK
    try:
        lines = replay(directory, runs=args.runs)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        backends.cleanup_all()
    if not lines:
        print(f"nothing to recover in {directory}")
    failed = sorted(
        {m.group(1) for line in lines if (m := _FAILED_RUN.match(line))}
    )
    for run_id in failed:
        print(
            f"run {run_id}: left open; once its cluster is gone for good "
            f"(check by hand): gauntlet recover --forget {run_id}"
        )
    return EXIT_VIOLATED if failed else EXIT_OK
