"""``gauntlet run`` options of the load profile.

``--scenario``, ``--load-rate`` and ``--load-workers`` override the
profile file's ``load.*`` settings for one run: they become the
``KUBE_GAUNTLET_LOAD_*`` variables the load checks read. Each is checked
before anything reaches the cluster (an unknown scenario, a rate that is
not above 0 or a negative number of workers stop the run with exit 2),
and only the load profile takes them.
"""

from __future__ import annotations

import argparse
import math

from gauntlet.errors import UsageError
from gauntlet.load.scenarios import SCENARIOS
from gauntlet.load.settings import ENV_RATE, ENV_SCENARIO, ENV_WORKERS
from gauntlet.profiles import ProfileSpec

__all__ = ["add_load_arguments", "load_environment"]

LOAD = "load"
MAX_LOCAL_WORKERS = 64
"""More local Locust processes than this is a typo, not a plan."""


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("load profile")
    group.add_argument(
        "--scenario",
        metavar="NAME",
        help="the request mix: " + ", ".join(SCENARIOS) + " (default: "
        "the --config file's load.scenario, else default)",
    )
    group.add_argument(
        "--load-rate",
        metavar="REQ_PER_S",
        help="target requests per second of all Locust users together "
        "(default: load.rate, else 50)",
    )
    group.add_argument(
        "--load-workers",
        metavar="N",
        help="Locust worker processes on this machine besides the master "
        "(default: load.workers, else 0: one process)",
    )


def load_environment(
    args: argparse.Namespace, profile: ProfileSpec
) -> dict[str, str]:
    """The load variables the flags set (empty without flags).

    Raises:
        UsageError: a flag with another profile, an unknown scenario, a
            rate that is not above 0, or a bad number of workers.
    """
    given = {
        flag: value
        for flag, value in (
            ("--scenario", args.scenario),
            ("--load-rate", args.load_rate),
            ("--load-workers", args.load_workers),
        )
        if value is not None
    }
    if given and profile.name != LOAD:
        raise UsageError(f"{', '.join(given)}: only for --profile {LOAD}")
    env: dict[str, str] = {}
    if args.scenario is not None:
        env[ENV_SCENARIO] = _scenario(args.scenario)
    if args.load_rate is not None:
        env[ENV_RATE] = _rate(args.load_rate)
    if args.load_workers is not None:
        env[ENV_WORKERS] = _workers(args.load_workers)
    return env


def _scenario(name: str) -> str:
    if name not in SCENARIOS:
        raise UsageError(
            f"--scenario {name!r}: unknown; one of {', '.join(SCENARIOS)}"
        )
    return name


def _rate(raw: str) -> str:
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not (rate > 0 and math.isfinite(rate)):
        raise UsageError(
            f"--load-rate {raw!r}: not a rate above 0 requests per second"
        )
    return f"{rate:g}"


def _workers(raw: str) -> str:
    if not raw.strip().isdigit():
        raise UsageError(f"--load-workers {raw!r}: not a whole number >= 0")
    n = int(raw)
    if n > MAX_LOCAL_WORKERS:
        raise UsageError(
            f"--load-workers {n}: more than {MAX_LOCAL_WORKERS} local "
            "processes (this machine's cores bound what they can send)"
        )
    return str(n)
