"""What a load run is asked to do: its mix, its pace and its processes.

Pure data shared by the checks (LOAD-01/02/03), the runner and the CLI,
so a plan is validated once, where it is made, with a message a user can
act on; the Locust side reads it back from the environment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from gauntlet.errors import UsageError
from gauntlet.load.scenarios import SCENARIOS

__all__ = [
    "THINK_S",
    "LoadPlan",
    "Ramp",
    "plan_from_json",
    "plan_to_json",
    "think_from_text",
    "think_to_text",
]

THINK_S = (0.05, 0.2)
"""An unpaced user's default wait between tasks (seconds, uniform)."""


@dataclass(frozen=True)
class Ramp:
    """A rate raised step by step until ``max_rate`` (LOAD-02's knee)."""

    start_rate: float
    """Target req/s (all users together) during the first step."""
    step_rate: float
    """Added each step."""
    step_s: int
    """Seconds per step."""
    max_rate: float
    """The run ends after the step at this rate."""

    def __post_init__(self) -> None:
        if not (self.start_rate > 0 and math.isfinite(self.start_rate)):
            raise UsageError(f"ramp: start rate {self.start_rate}: not > 0")
        if not (self.step_rate > 0 and math.isfinite(self.step_rate)):
            raise UsageError(f"ramp: step rate {self.step_rate}: not > 0")
        if self.step_s < 1:
            raise UsageError(f"ramp: step of {self.step_s}s: not >= 1 s")
        if not self.max_rate >= self.start_rate:
            raise UsageError(
                f"ramp: max rate {self.max_rate} below the start rate "
                f"{self.start_rate}"
            )

    def rates(self) -> tuple[float, ...]:
        """The target rate of each step, the last one ``max_rate``
        (capped, when the steps do not land on it)."""
        n = math.floor((self.max_rate - self.start_rate) / self.step_rate)
        out = [self.start_rate + i * self.step_rate for i in range(n + 1)]
        if out[-1] < self.max_rate - 1e-9:
            out.append(self.max_rate)
        return tuple(round(r, 6) for r in out)

    @property
    def seconds(self) -> int:
        return self.step_s * len(self.rates())


@dataclass(frozen=True)
class LoadPlan:
    """One run: scenario, users, pace (free, fixed rate or ramp), length
    and where the Locust processes run."""

    scenario: str = "default"
    """A key of ``gauntlet.load.scenarios.SCENARIOS``."""
    users: int = 10
    rate: float | None = None
    """Fixed-rate mode: target req/s of all users together; None with no
    ramp: each user as fast as the API answers, waiting ``think_s``
    between tasks."""
    seconds: int = 30
    """Ignored in ramp mode (the ramp sets the length)."""
    ramp: Ramp | None = None
    workers: int = 0
    """0: one process; N: a master and N local worker processes."""
    remote_workers: int = 0
    """Workers started elsewhere (an in-cluster Job) that connect."""
    master_bind: str = "127.0.0.1"
    """Where the master listens for remote workers."""
    master_port: int = 0
    """0: a free port."""
    think_s: tuple[float, float] = THINK_S
    """Unpaced users wait a uniform time in this range between tasks;
    ``(0, 0)``: none, each user sends as soon as its answer is in (what
    a throughput benchmark asks). Ignored when paced."""

    def __post_init__(self) -> None:
        low, high = self.think_s
        if not (0 <= low <= high and math.isfinite(high)):
            raise UsageError(
                f"load: think time {low:g}..{high:g}s: not 0 <= low <= high"
            )
        if self.scenario not in SCENARIOS:
            raise UsageError(
                f"load scenario {self.scenario!r}: unknown; one of "
                f"{', '.join(sorted(SCENARIOS))}"
            )
        if self.users < 1:
            raise UsageError(f"load: {self.users} users: not >= 1")
        if self.rate is not None and not (
            self.rate > 0 and math.isfinite(self.rate)
        ):
            raise UsageError(f"load rate {self.rate}: not a rate > 0 req/s")
        if self.rate is not None and self.ramp is not None:
            raise UsageError("load: a fixed rate and a ramp are exclusive")
        if self.seconds < 1:
            raise UsageError(f"load: {self.seconds}s: not >= 1 s")
        if self.workers < 0 or self.remote_workers < 0:
            raise UsageError("load: a negative number of workers")
        if not 0 <= self.master_port <= 65535:
            raise UsageError(f"load: master port {self.master_port}")

    @property
    def distributed(self) -> bool:
        """A master and workers rather than one Locust process."""
        return self.workers + self.remote_workers > 0

    @property
    def expected_workers(self) -> int:
        return self.workers + self.remote_workers

    @property
    def duration_s(self) -> int:
        """How long the load runs (the ramp's steps, else ``seconds``)."""
        return self.ramp.seconds if self.ramp else self.seconds

    @property
    def mode(self) -> str:
        """``ramp``, ``fixed`` (rate) or ``free`` (as fast as answered)."""
        if self.ramp is not None:
            return "ramp"
        return "fixed" if self.rate is not None else "free"

    def rate_at(self, run_time: float) -> float | None:
        """The target rate ``run_time`` seconds into the run (None:
        unpaced)."""
        if self.ramp is None:
            return self.rate
        rates = self.ramp.rates()
        step = min(max(int(run_time // self.ramp.step_s), 0), len(rates) - 1)
        return rates[step]

    def describe(self) -> str:
        """One line for progress and ``faults`` text."""
        if self.ramp is not None:
            r = self.ramp
            pace = (
                f"ramp {r.start_rate:g}->{r.max_rate:g} req/s "
                f"(+{r.step_rate:g} every {r.step_s}s)"
            )
        elif self.rate is not None:
            pace = f"{self.rate:g} req/s for {self.seconds}s"
        elif self.think_s == (0, 0):
            pace = f"unpaced, no think time, for {self.seconds}s"
        else:
            pace = f"unpaced for {self.seconds}s"
        procs = (
            f", {self.workers} local + {self.remote_workers} remote workers"
            if self.distributed
            else ""
        )
        return f"{self.scenario} mix, {self.users} users, {pace}{procs}"


def think_to_text(think: tuple[float, float]) -> str:
    """``think_s`` for an environment variable: ``low,high``."""
    return f"{think[0]!r},{think[1]!r}"


def think_from_text(text: str) -> tuple[float, float]:
    """Inverse of ``think_to_text``.

    Raises:
        ValueError: not two numbers 0 <= low <= high.
    """
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"think time {text!r}: not 'low,high' seconds")
    low, high = float(parts[0]), float(parts[1])
    if not (0 <= low <= high and math.isfinite(high)):
        raise ValueError(f"think time {text!r}: not 0 <= low <= high")
    return low, high


def plan_to_json(plan: LoadPlan) -> str:
    data = {k: v for k, v in plan.__dict__.items() if k != "ramp"}
    data["ramp"] = plan.ramp.__dict__ if plan.ramp else None
    return json.dumps(data)


def plan_from_json(text: str) -> LoadPlan:
    """Inverse of ``plan_to_json``.

    Raises:
        ValueError: not a plan.
    """
    try:
        data = dict(json.loads(text))
        ramp = data.pop("ramp", None)
        if "think_s" in data:
            low, high = data.pop("think_s")
            data["think_s"] = (float(low), float(high))
        return LoadPlan(**data, ramp=Ramp(**ramp) if ramp else None)
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"not a load plan: {exc}") from exc
