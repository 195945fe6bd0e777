"""PART-04's judgement of the writes in each window of stopped members."""

import pytest

from gauntlet.checks.chaos.quorum import GRACE_S, Window, _judge
from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.observe.history import Operation


def ctx() -> CheckContext:
    return CheckContext(
        cluster=None,  # type: ignore[arg-type]  # judging needs no cluster
        topology=None,  # type: ignore[arg-type]
        namespace="default",
        images=Images.from_env(),
    )


def write(start: float, result: str = "ok", took: float = 0.05) -> Operation:
    return Operation(
        client="w0",
        endpoint="lb",
        kind="write",
        key="k",
        value=str(start),
        start=start,
        end=start + took,
        start_utc="",
        end_utc="",
        result=result,  # type: ignore[arg-type]
    )


WINDOW_ONE_DOWN = Window(down=1, start=100.0, end=112.0)
WINDOW_TWO_DOWN = Window(down=2, start=112.0, end=124.0)


def test_writes_all_succeeding_within_the_tolerance_hold():
    ops = [write(100.0 + GRACE_S + i) for i in range(8)]
    assert _judge(ctx(), ops, WINDOW_ONE_DOWN, 3, 1) == []


def test_a_failed_write_within_the_tolerance_is_reported():
    ops = [write(104.0), write(105.0, "timeout", 2.0), write(108.0)]
    (problem,) = _judge(ctx(), ops, WINDOW_ONE_DOWN, 3, 1)
    assert problem == "1 of 3 writes failed with 1 of 3 down (tolerated: 1)"


def test_no_write_acknowledged_beyond_the_tolerance_holds():
    ops = [write(116.0 + i, "fail") for i in range(6)]
    assert _judge(ctx(), ops, WINDOW_TWO_DOWN, 3, 1) == []


def test_a_write_acknowledged_beyond_the_tolerance_is_reported():
    ops = [write(116.0, "fail"), write(118.0), write(120.0, "timeout")]
    (problem,) = _judge(ctx(), ops, WINDOW_TWO_DOWN, 3, 1)
    assert problem.startswith("1 of 3 writes acknowledged with 2 of 3 down")


def test_writes_in_flight_when_a_member_stops_are_not_judged():
    ops = [write(112.0 + GRACE_S / 2)]  # began within the grace period
    with pytest.raises(CheckSkipped, match="no write was recorded with 2 of"):
        _judge(ctx(), ops, WINDOW_TWO_DOWN, 3, 1)


def test_a_window_without_writes_is_unobserved_never_a_pass():
    with pytest.raises(CheckSkipped, match="the recorder did not run"):
        _judge(ctx(), [], WINDOW_ONE_DOWN, 3, 1)
