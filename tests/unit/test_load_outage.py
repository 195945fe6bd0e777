"""LOAD-03's judge: error budgets and outage windows from the request log."""

import pytest

from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.checks.load._outage import (
    MAX_FAILED_IN_FAULT,
    FaultWindow,
    fault_findings,
    fault_load,
    longest_outage,
    needs_etcd,
    outside_findings,
    outside_windows,
    successes_completed,
)
from gauntlet.checks.load.chaos_under_load import (
    APISERVER_PART,
    ETCD_PART,
    check_chaos_under_load,
)
from gauntlet.load.outcomes import Tally

T0 = 1_800_000_000
GET = "GET single configmap"
CREATE = "CREATE single configmap"
LIST_RV0 = "LIST namespace configmaps rv=0"
WATCH = "WATCH namespace configmaps"


def _steady(tally: Tally, first: int, last: int, per_s: int = 10) -> None:
    """``per_s`` fast GETs sent in each second ``first..last``."""
    for second in range(first, last + 1):
        for i in range(per_s):
            tally.success(GET, 20.0, at=second + i / per_s)


def _window(start: float, recovered: float, bound: float = 5.0) -> FaultWindow:
    return FaultWindow("fault", start, recovered, 2.0, bound)


def _failed(tally: Tally, name: str, status: int, at: float, n: int) -> None:
    for _ in range(n):
        tally.failure(name, status, lambda: "etcdserver: leader changed", at=at)


def test_cache_served_requests_do_not_need_etcd():
    assert needs_etcd(GET)
    assert needs_etcd(CREATE)
    assert needs_etcd("LIST cluster pods paged")
    assert not needs_etcd(LIST_RV0)
    assert not needs_etcd(WATCH)


def test_a_success_counts_in_the_second_it_came_back():
    tally = Tally()
    tally.success(GET, 8000.0, at=T0 + 0.1)  # hung through an election
    tally.success(GET, 10.0, at=T0 + 0.2)
    done = successes_completed(tally.series, [GET])
    assert done == {T0: 1, T0 + 8: 1}


def test_longest_outage_counts_whole_seconds_without_success():
    done = {T0: 3, T0 + 1: 2, T0 + 5: 1, T0 + 6: 4}
    assert longest_outage(done, range(T0, T0 + 11)) == (4, T0 + 7)
    assert longest_outage(done, range(T0, T0 + 10)) == (3, T0 + 2)
    assert longest_outage(done, range(T0, T0 + 7)) == (3, T0 + 2)
    assert longest_outage(done, range(T0, T0 + 2)) == (0, None)


def test_a_hung_request_that_succeeds_does_not_hide_the_stall():
    tally = Tally()
    _steady(tally, T0, T0 + 4)
    # every user hangs from T0+5 until the election ends 7 s later
    for i in range(10):
        tally.success(GET, 7000.0, at=T0 + 5 + i / 100)
    _steady(tally, T0 + 12, T0 + 20)
    load = fault_load(tally, _window(T0 + 5, T0 + 14), 5.0, (T0, T0 + 21))
    assert load.outage_s == 7  # T0+5 .. T0+11: nothing came back
    assert load.outage_from == T0 + 5
    assert load.failed == 0
    assert load.rate_before == pytest.approx(10.0)


def test_cache_served_successes_do_not_hide_the_outage():
    tally = Tally()
    _steady(tally, T0, T0 + 4)
    for second in range(T0 + 5, T0 + 15):
        tally.success(LIST_RV0, 5.0, at=second + 0.1)
        tally.success(WATCH, 1000.0, at=second + 0.1)
    _steady(tally, T0 + 15, T0 + 20)
    load = fault_load(tally, _window(T0 + 5, T0 + 15), 5.0, (T0, T0 + 21))
    assert load.outage_s == 10
    assert fault_findings(load, "etcd leader kill") == [
        "etcd leader kill: outage window 10s without a successful request "
        "(bound 5s)"
    ]


def test_failures_in_the_window_spend_its_error_budget():
    tally = Tally()
    _steady(tally, T0, T0 + 20)  # 10 per second: 90 in the window
    _failed(tally, CREATE, 500, T0 + 6.2, 10)
    window = _window(T0 + 5, T0 + 12)  # seconds T0+5 .. T0+13
    load = fault_load(tally, window, 5.0, (T0, T0 + 21))
    assert load.requests == 100
    assert load.failed == 10
    assert load.by_status == {500: 10}
    assert load.failed_ratio > MAX_FAILED_IN_FAULT
    assert load.outage_s == 0
    assert fault_findings(load, "one API server down") == [
        "one API server down: error budget overspent, 10 of 100 requests "
        "failed (10.0% > 5%) [500 x10]"
    ]


def test_a_fault_within_its_budgets_has_no_finding():
    tally = Tally()
    _steady(tally, T0, T0 + 20)
    _failed(tally, GET, 0, T0 + 6.5, 2)
    load = fault_load(tally, _window(T0 + 5, T0 + 12), 5.0, (T0, T0 + 21))
    assert load.failed == 2
    assert fault_findings(load, "fault") == []


def test_seconds_after_the_run_are_no_outage():
    tally = Tally()
    _steady(tally, T0, T0 + 10)
    load = fault_load(tally, _window(T0 + 5, T0 + 30), 5.0, (T0, T0 + 11))
    assert load.outage_s == 0
    assert load.rate_during == pytest.approx(10.0)


def test_a_window_outside_the_run_is_an_error():
    tally = Tally()
    _steady(tally, T0, T0 + 10)
    with pytest.raises(ValueError, match="outside the load run"):
        fault_load(tally, _window(T0 + 50, T0 + 60), 5.0, (T0, T0 + 11))


def test_outside_the_windows_loads_are_held_to_load_01s_budgets():
    tally = Tally()
    _steady(tally, T0, T0 + 29, per_s=20)  # 600 requests
    _failed(tally, CREATE, 503, T0 + 7.0, 40)  # inside the window
    _failed(tally, CREATE, 0, T0 + 20.0, 2)  # outside: under 1 %
    window = _window(T0 + 5, T0 + 10)  # seconds T0+5 .. T0+11
    outside = outside_windows(tally, [window])
    assert outside.requests == 600 - 140 + 2
    assert outside.failed == 2
    assert outside.server_errors == 0
    assert outside_findings(outside) == []

    _failed(tally, GET, 500, T0 + 25.0, 1)
    outside = outside_windows(tally, [window])
    assert outside_findings(outside) == [
        "outside the fault windows 1 5xx responses [no response x2, 500 x1]"
    ]

    _failed(tally, GET, 0, T0 + 26.0, 10)
    found = outside_findings(outside_windows(tally, [window]))
    assert found[0].startswith("outside the fault windows 13 of 473 requests")


def test_back_to_back_windows_share_no_second():
    first = _window(T0 + 0.4, T0 + 3.0)  # ends at T0+5.0
    second = FaultWindow("next", T0 + 5.0, T0 + 8.0, 2.0, 3.0)
    both = [s for s in range(T0, T0 + 12) if first.holds(s) and second.holds(s)]
    assert both == []


def test_without_node_access_both_faults_are_unobserved_and_no_load_runs():
    ctx = CheckContext(
        cluster=None,  # type: ignore[arg-type]  # never reached
        topology=None,  # type: ignore[arg-type]
        namespace="kg-test",
        images=Images("agnhost"),
        nodes_unavailable="--node-access none",
    )
    with pytest.raises(CheckSkipped, match="--node-access none"):
        check_chaos_under_load(ctx, None, 3)  # type: ignore[arg-type]
    assert [(p.name, p.status) for p in ctx.parts] == [
        (ETCD_PART, "unobserved"),
        (APISERVER_PART, "unobserved"),
    ]


def test_a_request_cut_by_the_fault_in_its_second_is_the_faults():
    tally = Tally()
    _steady(tally, T0, T0 + 20, per_s=20)
    _failed(tally, CREATE, 500, T0 + 5.1, 1)  # sent before the kill
    window = _window(T0 + 5.8, T0 + 10)  # killed 0.7 s later
    load = fault_load(tally, window, 5.0, (T0, T0 + 21))
    assert load.failed == 1
    assert load.rate_before == pytest.approx(20.0)
    assert outside_windows(tally, [window]).failed == 0


def test_a_fast_recovery_does_not_shrink_the_error_budget():
    tally = Tally()
    _steady(tally, T0, T0 + 30, per_s=20)
    _failed(tally, CREATE, 500, T0 + 5.5, 7)  # cut by the kill
    fast = FaultWindow("fault", T0 + 5.2, T0 + 6.0, 1.0, 8.0)
    assert fault_findings(fault_load(tally, fast, 5.0, (T0, T0 + 31)), "f")
    judged = FaultWindow("fault", T0 + 5.2, T0 + 6.0, 1.0, 8.0, min_s=10.0)
    assert judged.end == pytest.approx(T0 + 15.2)
    load = fault_load(tally, judged, 5.0, (T0, T0 + 31))
    assert load.requests == 207
    assert fault_findings(load, "f") == []
