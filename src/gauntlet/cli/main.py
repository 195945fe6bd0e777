"""Entry point: parse, dispatch, and turn errors into one line and exit 2.

Exit codes: 0 every selected guarantee holds, 1 one is violated, 2 usage or
environment error, 130 interrupted (after rolling back injected faults).
"""

from __future__ import annotations

import argparse
import sys

from gauntlet import __version__
from gauntlet.errors import GauntletError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from gauntlet.cli import experiment_cmd, lab_cmd, misc_cmd, run_cmd

    parser = argparse.ArgumentParser(
        prog="gauntlet",
        description="Check that a Kubernetes cluster keeps the promises of "
        "its architecture, also while things break.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    lab_cmd.add_parser(sub)
    run_cmd.add_parser(sub)
    experiment_cmd.add_parser(sub)
    misc_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except GauntletError as exc:
        print(f"gauntlet: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `gauntlet guarantees | head`: the reader left; not an error.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("gauntlet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
