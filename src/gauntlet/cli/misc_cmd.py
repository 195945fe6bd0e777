"""``gauntlet guarantees``, ``gauntlet recover`` and ``gauntlet report``."""

from __future__ import annotations

import argparse
import functools
import http.server
import json
from pathlib import Path

from gauntlet.catalogue import load_catalogue
from gauntlet.cli.pytest_runner import collect, pytest_base
from gauntlet.errors import UsageError
from gauntlet.exit_codes import EXIT_OK, EXIT_VIOLATED
from gauntlet.project import project_root, reports_root

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
    rep = sub.add_parser("report", help="the HTML report of a run")
    rep.add_argument("action", choices=("open", "serve"))
    rep.add_argument("--run", metavar="ID", help="run id (default: latest)")
    rep.add_argument("--port", type=int, default=8000, help="serve port")
    rep.set_defaults(func=report)


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


def report(args: argparse.Namespace) -> int:
    """Print the report path, or serve it on 127.0.0.1."""
    run_dir = _run_dir(args.run)
    html = run_dir / "html"
    index = html / "index.html"
    if not index.is_file():
        index = next(iter(sorted(html.glob("*/index.html"))), index)
    if not index.is_file():
        raise UsageError(
            f"run {run_dir.name} has no HTML report under {html}: install "
            "Node.js >= 20 and re-run, or read summary.json"
        )
    if args.action == "open":
        print(index)
        return EXIT_OK
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(index.parent)
    )
    try:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", args.port), handler
        )
    except OSError as exc:
        raise UsageError(
            f"cannot serve on 127.0.0.1:{args.port} ({exc.strerror}): pass "
            "another --port"
        ) from exc
    print(
        f"serving {index.parent} at http://127.0.0.1:{args.port}/ "
        "(Ctrl-C to stop)"
    )
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            return EXIT_OK
    return EXIT_OK


def _run_dir(run_id: str | None) -> Path:
    root = reports_root()
    if run_id:
        path = root / run_id
        if not path.is_dir():
            raise UsageError(f"no run {run_id} under {root}")
        return path
    runs = sorted(
        p for p in root.glob("*") if p.is_dir() and not p.name.startswith(".")
    )
    if not runs:
        raise UsageError(f"no runs under {root}: start one with `gauntlet run`")
    return runs[-1]
