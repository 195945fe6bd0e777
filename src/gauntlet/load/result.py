"""What a load run saw: its tally, its timing and its ramp steps.

Pure data (no locust, no kubernetes), returned by
``gauntlet.load.runner`` and judged by the load checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gauntlet.load.outcomes import Tally
from gauntlet.load.plan import LoadPlan

__all__ = ["LoadResult", "RampStep"]


@dataclass(frozen=True)
class RampStep:
    """One step of a ramp: its target rate and when it ran (epoch)."""

    rate: float
    start: float
    end: float


@dataclass(frozen=True)
class LoadResult:
    """What a Locust run saw."""

    tally: Tally
    """Every request's outcome: the verdict is judged from this."""
    locust_stats: list[dict[str, Any]]
    """Locust's own ``--json-file`` rows, kept as evidence."""
    seconds: float
    """How long the users were driving the API (start to stop)."""
    server: str
    started_at: float = 0.0
    """Epoch: the users started."""
    ended_at: float = 0.0
    """Epoch: the users were told to stop (their cleanup follows)."""
    plan: LoadPlan = field(default_factory=LoadPlan)
    steps: tuple[RampStep, ...] = ()
    users: int = 0
    """Users actually run (a ramp or a high rate may raise the plan's)."""
    leftovers: int | None = 0
    """Objects of the run still there after its users stopped (then
    removed); None when the sweep could not list them (``sweep_error``
    says why: the namespace's removal takes them)."""
    sweep_error: str = ""
    unreported_workers: tuple[str, ...] = ()
    """Workers whose last report the master did not get: their last
    seconds are missing from the tally."""

    @property
    def requests(self) -> int:
        return self.tally.requests

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.tally.by_status().items() if s >= 500)

    @property
    def target_rate(self) -> float | None:
        """The plan's fixed rate, None when unpaced or ramped."""
        return self.plan.rate

    @property
    def achieved_rate(self) -> float:
        """Requests sent per second while the users ran (their cleanup
        after the stop not counted)."""
        if self.ended_at <= self.started_at:
            return self.tally.requests / self.seconds if self.seconds else 0.0
        return self.rate_between(self.started_at, self.ended_at)

    def rate_between(self, start: float, end: float) -> float:
        """Requests sent per second in ``[start, end)`` (whole seconds of
        the series, each counted in the window holding its middle)."""
        seconds = sum(
            1 for s in range(int(start), int(end) + 1) if start <= s + 0.5 < end
        )
        if seconds == 0:
            return 0.0
        return self.tally.window(start, end).requests / seconds
