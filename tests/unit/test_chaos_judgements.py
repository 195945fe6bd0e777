"""The RES checks' judgements without a cluster: zero samples are never a
pass, every measurement has its bound, and a violation found inside a
fault window is kept for its part while the later steps still run."""

from types import SimpleNamespace

import pytest

from gauntlet.checks.chaos import _support, web, writes
from gauntlet.checks.chaos.maintenance import (
    READY_BOUND_S,
    fewest_available,
    rejoin_finding,
)
from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.errors import GuaranteeTimeout, GuaranteeViolated
from gauntlet.observe.history import Operation
from gauntlet.observe.watch import Seen


def write(start, result="ok", took=0.05):
    return Operation(
        client="lb",
        endpoint="lb",
        kind="write",
        key="k",
        value=str(start),
        start=start,
        end=start + took,
        start_utc="",
        end_utc="",
        result=result,
    )


def context():
    return CheckContext(
        cluster=None,
        topology=None,
        namespace="kg-test",
        images=Images("busybox"),
    )


# -- RES-04: the write outage window ------------------------------------------


def test_an_outage_window_without_any_write_is_unobserved_not_zero():
    stats = writes.write_stats([], start=100.0)
    assert stats.total == 0 and stats.max_gap_s is None
    with pytest.raises(CheckSkipped, match="no write was recorded around"):
        writes.longest_gap_s(stats, "around the election")


def test_writes_that_all_failed_are_one_long_outage():
    ops = [write(100.0 + i, "timeout", 2.0) for i in range(0, 8, 2)]
    stats = writes.write_stats(ops, start=100.0)
    assert writes.longest_gap_s(stats, "around the election") == 8.0


def test_the_outage_is_the_longest_gap_between_acknowledged_writes():
    ops = [write(100.0), write(100.5, "timeout", 2.0), write(104.0)]
    stats = writes.write_stats(ops, start=99.0)
    assert stats.max_gap_s == pytest.approx(104.05 - 100.05)


def test_latency_without_an_acknowledged_write_is_no_sample():
    stats = writes.write_stats([write(1.0, "fail")])
    assert stats.latency_p50_s is None and stats.latency_p99_s is None


def test_nothing_acknowledged_means_no_write_could_be_lost():
    with pytest.raises(CheckSkipped, match="none could be lost"):
        writes.no_write_lost([write(1.0, "timeout")], [])
    assert writes.no_write_lost([write(1.0)], ["k: lost"]) == ["k: lost"]


# -- RES-10: time to Ready after joining --------------------------------------


def test_a_node_ready_later_than_the_startup_grace_period_is_reported():
    finding = rejoin_finding("w2", READY_BOUND_S + 5)
    assert finding == (
        "w2 turned Ready 65s after its kubelet's start "
        "(bound 60s, the node startup grace period)"
    )


def test_a_node_ready_as_fast_as_the_lab_measures_passes():
    assert rejoin_finding("w2", 18.0) is None


# -- RES-09: availability during the drain ------------------------------------


def deployment(at, available, kind="MODIFIED"):
    status = SimpleNamespace(available_replicas=available)
    return Seen(at, kind, SimpleNamespace(status=status))


def test_a_drain_without_deployment_changes_keeps_the_state_before_it():
    versions = [deployment(5.0, 3, "LISTED")]
    assert fewest_available(versions, began=10.0, ended=20.0) == 3


def test_the_fewest_available_replicas_in_the_window_count():
    versions = [
        deployment(5.0, 3, "LISTED"),
        deployment(12.0, 1),
        deployment(15.0, 3),
        deployment(25.0, 0),  # after the window
    ]
    assert fewest_available(versions, began=10.0, ended=20.0) == 1


def test_a_deployment_the_watch_never_saw_is_unobserved_not_full():
    with pytest.raises(CheckSkipped, match="never saw the Deployment"):
        fewest_available([], began=10.0, ended=20.0)


# -- the Service client -------------------------------------------------------


def test_a_service_client_that_logged_nothing_is_a_finding():
    assert web.service_finding(0, 0, "in the blackout") == (
        "the Service client logged no request in the blackout"
    )


def test_a_service_below_its_success_ratio_is_a_finding():
    assert web.service_finding(90, 100, "during the drain") == (
        "the Service answered 90 of 100 requests during the drain"
    )
    assert web.service_finding(99, 100, "during the drain") is None


# -- parts around a fault window ----------------------------------------------


def test_a_timeout_inside_the_fault_window_is_kept_for_its_part():
    def never():
        raise GuaranteeTimeout("w2 NotReady", 120, "Ready=True")

    kept = _support.attempt(never)
    later = _support.attempt(lambda: "w1")  # the next step still ran
    ctx = context()
    with ctx.part("NotReady in time"):
        _support.settle(kept)
    with ctx.part("new pods avoid the node") as part:
        if _support.settle(later) == "w2":
            part.finding("a new pod was scheduled onto NotReady w2")

    with pytest.raises(GuaranteeViolated) as caught:
        ctx.conclude("kubelet stopped on w2")
    assert str(caught.value) == (
        "kubelet stopped on w2: w2 NotReady: not reached within 120s "
        "(last observed: Ready=True)"
    )
    assert [p.status for p in ctx.parts] == ["violated", "checked"]


def test_an_error_inside_the_fault_window_is_never_kept():
    def broken():
        raise KeyError("w2")

    with pytest.raises(KeyError):
        _support.attempt(broken)
