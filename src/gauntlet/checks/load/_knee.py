"""LOAD-02's knee: where a ramp's p99 leaves its SLO and 429s start.

Each ramp step is judged from the same per-second tally as the verdicts
(``Tally.window``): the rate it aimed at, the rate it achieved, its
429s and each timed class's p99 against its upstream SLO. The knee is
the first step that crossed; a ramp that never crossed reports "not
reached up to X req/s" (a number would claim a knee that was not seen).
Pure: no cluster, no locust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gauntlet.load.outcomes import Tally
from gauntlet.load.slo import latency_stats

__all__ = [
    "SHED",
    "Knee",
    "StepSpan",
    "StepVerdict",
    "judge_steps",
    "knee_of",
    "should_stop",
    "step_at",
]

SHED = 429
"""What API Priority and Fairness answers a request it sheds."""
STEPS_AFTER_SHED = 2
"""The ramp stops at the start of the second step after the first 429s:
the shedding step and one more were seen in full."""


class StepSpan(Protocol):
    """One ramp step (``gauntlet.load.runner.RampStep``)."""

    @property
    def rate(self) -> float: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


@dataclass(frozen=True)
class StepVerdict:
    """What one ramp step came to."""

    target_rate: float
    achieved_rate: float
    """Requests sent per second of the step (answered or not)."""
    requests: int
    shed: int
    """429 answers."""
    over_slo: tuple[str, ...]
    """``<class> p99 1.2s > 1s`` for each timed class over its SLO."""

    @property
    def label(self) -> str:
        """``40 req/s (achieved 38.5)``."""
        return f"{self.target_rate:g} req/s (achieved {self.achieved_rate:.1f})"

    def to_json(self) -> dict[str, object]:
        return {
            "target_rate": self.target_rate,
            "achieved_rate": round(self.achieved_rate, 2),
            "requests": self.requests,
            "shed_429": self.shed,
            "over_slo": list(self.over_slo),
        }


@dataclass(frozen=True)
class Knee:
    """The first step that crossed a line, or the highest step reached."""

    step: StepVerdict | None
    """The first crossing step; None: not reached."""
    highest: StepVerdict | None
    """The last step run (what "not reached up to" names)."""

    @property
    def reached(self) -> bool:
        return self.step is not None

    def describe(self) -> str:
        if self.step is not None:
            return f"at {self.step.label}"
        if self.highest is None:
            return "not reached: no ramp step ran"
        return f"not reached up to {self.highest.label}"


def judge_steps(steps: Sequence[StepSpan], tally: Tally) -> list[StepVerdict]:
    """Each step's rates, 429s and classes over their SLO, in order.

    A step with no request at all is kept (achieved 0): the runner could
    not send, which the report must show rather than skip.
    """
    verdicts = []
    for step in steps:
        seen = tally.window(step.start, step.end)
        seconds = max(step.end - step.start, 1e-9)
        over = tuple(
            f"{s.name} p99 {s.p99_s:.2f}s > {s.bound_s:g}s"
            for s in latency_stats(seen)
            if s.p99_s is not None and s.p99_s > s.bound_s
        )
        verdicts.append(
            StepVerdict(
                target_rate=step.rate,
                achieved_rate=seen.requests / seconds,
                requests=seen.requests,
                shed=seen.by_status().get(SHED, 0),
                over_slo=over,
            )
        )
    return verdicts


def knee_of(verdicts: list[StepVerdict], what: str) -> Knee:
    """The first step where ``what`` (``shed`` or ``slo``) shows."""
    highest = verdicts[-1] if verdicts else None
    for verdict in verdicts:
        crossed = verdict.shed > 0 if what == "shed" else bool(verdict.over_slo)
        if crossed:
            return Knee(verdict, highest)
    return Knee(None, highest)


def step_at(started_at: float, step_s: int, now: float) -> int:
    """The index of the ramp step running at ``now`` (0 before the start)."""
    return max(0, int((now - started_at) // step_s))


def should_stop(first_shed_step: int | None, current_step: int) -> bool:
    """Whether the ramp has its knee: the level shed during one step and
    a whole further step has run (its 429s are not a one-off)."""
    return (
        first_shed_step is not None
        and current_step >= first_shed_step + STEPS_AFTER_SHED
    )
