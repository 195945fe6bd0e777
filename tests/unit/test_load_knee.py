"""LOAD-02's knee: judged per ramp step from the per-second tally."""

from dataclasses import dataclass

from gauntlet.checks.load._knee import (
    judge_steps,
    knee_of,
    should_stop,
    step_at,
)
from gauntlet.load.outcomes import Tally

GET = "GET single configmap"
T0 = 1_700_000_000


@dataclass(frozen=True)
class Step:
    rate: float
    start: float
    end: float


def _ramp_tally() -> Tally:
    """Three 2 s steps: fine, slow, shed."""
    tally = Tally()
    for s in range(2):  # step 1: 10 fast requests a second
        for _ in range(10):
            tally.success(GET, 20, at=T0 + s)
    for s in range(2, 4):  # step 2: 20 a second, all over 1 s
        for _ in range(20):
            tally.success(GET, 1500, at=T0 + s)
    for s in range(4, 6):  # step 3: 30 a second, a third shed
        for i in range(30):
            if i % 3:
                tally.success(GET, 1500, at=T0 + s)
            else:
                tally.failure(GET, 429, lambda: "too many", at=T0 + s)
    return tally


STEPS = [
    Step(10, T0, T0 + 2),
    Step(20, T0 + 2, T0 + 4),
    Step(30, T0 + 4, T0 + 6),
]


def test_each_step_is_judged_from_its_own_seconds():
    verdicts = judge_steps(STEPS, _ramp_tally())
    assert [v.achieved_rate for v in verdicts] == [10, 20, 30]
    assert [v.shed for v in verdicts] == [0, 0, 20]
    assert verdicts[0].over_slo == ()
    assert verdicts[1].over_slo == (f"{GET} p99 1.50s > 1s",)


def test_the_knees_name_the_first_step_that_crossed():
    verdicts = judge_steps(STEPS, _ramp_tally())
    assert knee_of(verdicts, "slo").describe() == "at 20 req/s (achieved 20.0)"
    assert knee_of(verdicts, "shed").describe() == "at 30 req/s (achieved 30.0)"


def test_a_knee_not_reached_is_no_number():
    verdicts = judge_steps(STEPS[:1], _ramp_tally())
    knee = knee_of(verdicts, "shed")
    assert not knee.reached
    assert knee.describe() == "not reached up to 10 req/s (achieved 10.0)"
    assert knee_of([], "slo").describe() == "not reached: no ramp step ran"


def test_a_step_that_sent_nothing_is_kept_at_zero():
    (verdict,) = judge_steps([Step(50, T0 + 100, T0 + 105)], _ramp_tally())
    assert verdict.requests == 0 and verdict.achieved_rate == 0


def test_the_ramp_stops_a_whole_step_after_the_first_429s():
    assert step_at(T0, 5, T0 - 1) == 0
    assert step_at(T0, 5, T0 + 11) == 2
    assert not should_stop(None, 9)
    assert not should_stop(3, 4)
    assert should_stop(3, 5)
