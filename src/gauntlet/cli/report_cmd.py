"""``gauntlet report``: a run's HTML report, trends, two runs compared.

``open`` and ``serve`` show one run's report, ``screenshot`` saves a
PNG of it beside it; ``trend`` reads the history of a context
(``reports/history/<context>.jsonl``) and flags measurements that got
worse; ``compare`` puts two runs' summary.json side by side. A RUN is
a run id, a unique prefix of one, ``latest`` or a run directory.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
from pathlib import Path

from gauntlet.cli.pytest_runner import RunFiles
from gauntlet.errors import UsageError
from gauntlet.exit_codes import EXIT_OK, EXIT_VIOLATED
from gauntlet.project import reports_root
from gauntlet.reporting.compare import compare_runs, render_comparison
from gauntlet.reporting.history import (
    history_file,
    known_contexts,
    latest_history_file,
    read_history,
)
from gauntlet.reporting.runs import (
    LATEST,
    SUMMARY,
    load_summary,
    resolve_run,
)
from gauntlet.reporting.screenshot import take_screenshot
from gauntlet.reporting.trend import DEFAULT_LAST, DEFAULT_MARGIN, build_trend
from gauntlet.reporting.trend_render import render_text

__all__ = ["add_parser"]

ALL_PROFILES = "all"
RUN_HELP = f"run id, unique prefix, {LATEST!r} or run directory"
MAX_MARGIN_PCT = 1000.0


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    rep = sub.add_parser(
        "report",
        help="a run's HTML report, trends across runs, two runs compared",
    )
    actions = rep.add_subparsers(dest="action", required=True)
    for name, text in (
        ("open", "print the path of a run's HTML report"),
        ("serve", "serve a run's HTML report on 127.0.0.1"),
        (
            "screenshot",
            "save a PNG of a run's HTML report as report.png in its "
            "directory (headless Chromium)",
        ),
    ):
        show = actions.add_parser(name, help=text)
        show.add_argument(
            "run",
            nargs="?",
            metavar="RUN",
            help=f"{RUN_HELP} (default: latest)",
        )
        show.add_argument(
            "--run", dest="run_option", metavar="ID", help="same as RUN"
        )
        if name != "screenshot":
            show.add_argument(
                "--port", type=int, default=8000, help="serve port"
            )
        show.set_defaults(func=report)
    trend_p = actions.add_parser(
        "trend",
        help="each measurement over the last runs of a context; flags "
        "regressions",
    )
    trend_p.add_argument(
        "--context",
        metavar="CTX",
        help="kubeconfig context (default: that of the newest run kept)",
    )
    trend_p.add_argument(
        "--profile",
        metavar="NAME",
        help=f"only runs of this profile (default: the newest run's; "
        f"{ALL_PROFILES!r}: every profile)",
    )
    trend_p.add_argument(
        "--last",
        type=int,
        default=DEFAULT_LAST,
        metavar="N",
        help=f"runs to show (default {DEFAULT_LAST})",
    )
    trend_p.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN * 100,
        metavar="PCT",
        help="worse than the median of the previous runs by more than "
        f"PCT %% is a regression (default {DEFAULT_MARGIN * 100:g})",
    )
    trend_p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when the newest run has a regression (CI)",
    )
    trend_p.add_argument("--json", action="store_true", help="machine-readable")
    trend_p.set_defaults(func=trend)
    cmp_p = actions.add_parser(
        "compare", help="two runs side by side: verdicts and measurements"
    )
    cmp_p.add_argument("run_a", metavar="RUN_A", help=RUN_HELP)
    cmp_p.add_argument("run_b", metavar="RUN_B", help=RUN_HELP)
    cmp_p.add_argument("--json", action="store_true", help="machine-readable")
    cmp_p.set_defaults(func=compare)


def report(args: argparse.Namespace) -> int:
    """Print the report path, save a PNG of it, or serve it on 127.0.0.1.

    Raises:
        UsageError: no such run, no HTML report, or no browser for the
            screenshot.
        ToolFailed: the browser could not take the screenshot.
    """
    if args.run and args.run_option and args.run != args.run_option:
        raise UsageError(
            f"two runs named: {args.run} and --run {args.run_option}"
        )
    run_dir = resolve_run(args.run or args.run_option, reports_root())
    files = RunFiles(run_dir)
    index = files.html / "index.html"
    if not index.is_file():
        index = next(iter(sorted(files.html.glob("*/index.html"))), index)
    if not index.is_file():
        raise UsageError(
            f"run {run_dir.name} has no HTML report under {files.html}: "
            "install Node.js >= 20 and re-run, or read summary.json"
        )
    if args.action == "open":
        print(index)
        return EXIT_OK
    if args.action == "screenshot":
        print(take_screenshot(index, files.screenshot))
        return EXIT_OK
    return _serve(index.parent, args.port)


def trend(args: argparse.Namespace) -> int:
    """Print the trend; ``EXIT_VIOLATED`` only with ``--fail-on-regression``
    and a regression in the newest run."""
    if args.last < 1:
        raise UsageError(f"--last {args.last}: give at least 1 run")
    if not 0 <= args.margin <= MAX_MARGIN_PCT:
        raise UsageError(
            f"--margin {args.margin:g}: give a percentage from 0 to "
            f"{MAX_MARGIN_PCT:g}"
        )
    reports = reports_root()
    context = args.context or _newest_context(reports)
    path = history_file(reports, context)
    if not path.is_file():
        known = ", ".join(known_contexts(reports)) or "none yet"
        raise UsageError(
            f"no history for context {context} ({path} is missing); "
            f"histories kept: {known}"
        )
    read = read_history(path, context)
    for warning in read.warnings:
        _warn(warning)
    if not read.runs:
        raise UsageError(f"no readable run of context {context} in {path}")
    profile = args.profile or read.runs[-1].profile
    if profile == ALL_PROFILES:
        profile = None
    result = build_trend(
        read.runs,
        context,
        profile=profile,
        last=args.last,
        margin=args.margin / 100,
    )
    if not result.runs:
        raise UsageError(f"no run of profile {profile} for {context} in {path}")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render_text(result), end="")
    for series in result.regressions:
        _warn(f"regression: {series.label}: {series.judgement.detail}")
    if result.regressions and args.fail_on_regression:
        return EXIT_VIOLATED
    return EXIT_OK


def compare(args: argparse.Namespace) -> int:
    """Print run A against run B (always ``EXIT_OK`` when both load)."""
    reports = reports_root()
    a = load_summary(resolve_run(args.run_a, reports, need=SUMMARY))
    b = load_summary(resolve_run(args.run_b, reports, need=SUMMARY))
    comparison = compare_runs(a, b)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2))
    else:
        print(render_comparison(comparison), end="")
    return EXIT_OK


def _newest_context(reports: Path) -> str:
    """The context of the last line of the history written last."""
    path = latest_history_file(reports)
    if path is None:
        raise UsageError(
            f"no history under {reports}: every `gauntlet run` adds its "
            "run when it ends"
        )
    read = read_history(path)
    if not read.runs:
        raise UsageError(f"no readable run in {path}: pass --context")
    return read.runs[-1].context


def _serve(directory: Path, port: int) -> int:
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(directory)
    )
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UsageError(
            f"cannot serve on 127.0.0.1:{port} ({exc.strerror}): pass "
            "another --port"
        ) from exc
    print(f"serving {directory} at http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            return EXIT_OK
    return EXIT_OK


def _warn(message: str) -> None:
    print(f"gauntlet: warning: {message}", file=sys.stderr)
