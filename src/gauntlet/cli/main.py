"""Entry point: parse, dispatch, and turn errors into one line and exit 2.

Every command returns one of ``gauntlet.exit_codes``; subcommand modules
take what they share from there and ``gauntlet.runid``, never from here,
so imports only run from this module down.
"""

from __future__ import annotations

import argparse
import sys

from gauntlet import __version__
from gauntlet.errors import GauntletError
from gauntlet.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    from gauntlet.cli import (
        experiment_cmd,
        images_cmd,
        lab_cmd,
        misc_cmd,
        report_cmd,
        run_cmd,
        schedule_cmd,
    )

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
    images_cmd.add_parser(sub)
    misc_cmd.add_parser(sub)
    report_cmd.add_parser(sub)
    schedule_cmd.add_parser(sub)
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
        return EXIT_OK
    except KeyboardInterrupt:
        print("gauntlet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
