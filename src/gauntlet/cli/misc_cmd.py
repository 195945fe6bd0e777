"""``gauntlet guarantees`` and ``gauntlet recover`` (``gauntlet report``
lives in ``report_cmd``)."""

from __future__ import annotations

import argparse
import json

from gauntlet.catalogue import load_catalogue
from gauntlet.cli.pytest_runner import collect, pytest_base
from gauntlet.exit_codes import EXIT_OK, EXIT_VIOLATED
from gauntlet.project import project_root

__all__ = ["add_parser"]

SUITES = "suites"


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


def recover(_args: argparse.Namespace) -> int:
    """Undo what dead runs left open, newest first: faults, and what they
    created (namespaces, ledger mirrors, helper pods); ``EXIT_VIOLATED``
    if one failed."""
    from gauntlet import backends
    from gauntlet.faults.ledger import ledger_dir
    from gauntlet.faults.ledger import recover as replay

    directory = ledger_dir()
    try:
        lines = replay(directory)
    finally:
        backends.cleanup_all()
    if not lines:
        print(f"nothing to recover in {directory}")
    failed = any(line.startswith("failed:") for line in lines)
    return EXIT_VIOLATED if failed else EXIT_OK
