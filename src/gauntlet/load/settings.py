"""The load settings as the checks read them from the environment.

``gauntlet run`` sets them from the profile file and the ``--scenario``,
``--load-rate`` and ``--load-workers`` flags; a bad value is a usage
error naming the variable, never a silent default.
"""

from __future__ import annotations

import math
import os

from gauntlet.config import env_count
from gauntlet.errors import UsageError
from gauntlet.load.plan import LoadPlan
from gauntlet.load.scenarios import SCENARIOS

__all__ = [
    "ENV_RATE",
    "ENV_SCENARIO",
    "ENV_SECONDS",
    "ENV_USERS",
    "ENV_WORKERS",
    "env_rate",
    "env_scenario",
    "env_workers",
    "fixed_rate_plan",
]

ENV_USERS = "KUBE_GAUNTLET_LOAD_USERS"
ENV_SECONDS = "KUBE_GAUNTLET_LOAD_SECONDS"
ENV_SCENARIO = "KUBE_GAUNTLET_LOAD_SCENARIO"
ENV_RATE = "KUBE_GAUNTLET_LOAD_RATE"
ENV_WORKERS = "KUBE_GAUNTLET_LOAD_WORKERS"
DEFAULT_RATE = 50.0
"""LOAD-01's pace: 50 req/s of 10 users, 5 req/s each."""


def env_scenario(default: str = "default") -> str:
    """Raises UsageError: not a scenario name."""
    name = os.environ.get(ENV_SCENARIO, "").strip() or default
    if name not in SCENARIOS:
        raise UsageError(
            f"{ENV_SCENARIO}={name!r}: unknown scenario; one of "
            f"{', '.join(sorted(SCENARIOS))}"
        )
    return name


def env_rate(default: float = DEFAULT_RATE) -> float:
    """Raises UsageError: not a rate above 0 req/s."""
    raw = os.environ.get(ENV_RATE, "").strip()
    if not raw:
        return default
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not (rate > 0 and math.isfinite(rate)):
        raise UsageError(f"{ENV_RATE}={raw!r}: not a rate above 0 req/s")
    return rate


def env_workers(default: int = 0) -> int:
    """Raises UsageError: not a whole number >= 0."""
    raw = os.environ.get(ENV_WORKERS, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise UsageError(f"{ENV_WORKERS}={raw!r}: not a whole number >= 0")
    return int(raw)


def fixed_rate_plan(
    users: int = 10, seconds: int = 30, rate: float = DEFAULT_RATE
) -> LoadPlan:
    """LOAD-01's plan: the defaults overridden by the settings."""
    return LoadPlan(
        scenario=env_scenario(),
        users=env_count(ENV_USERS, users),
        rate=env_rate(rate),
        seconds=env_count(ENV_SECONDS, seconds),
        workers=env_workers(),
    )
