"""LOAD-02's own priority level, and what the API servers' metrics say."""

from gauntlet.checks.arch import _metrics
from gauntlet.checks.arch._apiservers import ApiServer
from gauntlet.checks.load._apf import (
    PRECEDENCE,
    ServerView,
    flow_schema,
    level_known,
    priority_level,
    rejected_by_level,
    rejected_during,
    restarted,
)

CP1 = ApiServer("cp1", "https://10.0.0.1:6443")
REJECTED = "apiserver_flowcontrol_rejected_requests_total"
METRICS = "\n".join(
    [
        f"# HELP {REJECTED} x",
        f'{REJECTED}{{priority_level="kg",reason="queue-full"}} 7',
        f'{REJECTED}{{priority_level="kg",reason="time-out"}} 2',
        f'{REJECTED}{{priority_level="workload-low",reason="queue-full"}} 5',
        'apiserver_flowcontrol_nominal_limit_seats{priority_level="kg"} 3',
        "process_start_time_seconds 1.7e+09",
        "",
    ]
)


def test_the_level_is_small_and_neither_lends_nor_borrows():
    limited = priority_level("kg")["spec"]["limited"]
    assert limited["nominalConcurrencyShares"] <= 5
    assert limited["lendablePercent"] == limited["borrowingLimitPercent"] == 0
    assert limited["limitResponse"]["queuing"]["queueLengthLimit"] <= 10


def test_the_schema_takes_only_the_tenant_after_the_system_schemas():
    spec = flow_schema("kg", "kg", "tenant", "kg-1")["spec"]
    (rule,) = spec["rules"]
    assert rule["subjects"] == [
        {
            "kind": "ServiceAccount",
            "serviceAccount": {"name": "tenant", "namespace": "kg-1"},
        }
    ]
    assert spec["priorityLevelConfiguration"] == {"name": "kg"}
    assert 900 < PRECEDENCE < 9000  # kube-system SAs < it < service-accounts


def test_rejections_are_counted_per_level():
    samples = _metrics.parse(METRICS)
    assert rejected_by_level(samples) == {"kg": 9, "workload-low": 5}
    assert level_known(samples, "kg")
    assert not level_known(samples, "workload-low")


def _view(kg: int, low: int) -> ServerView:
    text = (
        f'{REJECTED}{{priority_level="kg",reason="queue-full"}} {kg}\n'
        f'{REJECTED}{{priority_level="workload-low",reason="x"}} {low}\n'
    )
    return ServerView(CP1, _metrics.parse(text))


def test_rejections_during_the_run_are_the_rises_only():
    assert rejected_during([_view(2, 5)], [_view(9, 5)]) == {"kg": 7}
    assert rejected_during([_view(2, 5)], [_view(2, 5)]) == {}
    assert rejected_during([_view(9, 5)], [_view(3, 5)]) == {"kg": 3}


def test_no_server_read_twice_is_no_count():
    unread = ServerView(CP1, None, "refused")
    assert rejected_during([unread], [_view(9, 5)]) is None


def test_a_changed_start_time_is_a_restart():
    first = ServerView(CP1, _metrics.parse(METRICS))
    same = ServerView(CP1, _metrics.parse(METRICS))
    later = ServerView(
        CP1, _metrics.parse("process_start_time_seconds 1.70000006e+09\n")
    )
    assert restarted(first, same) is None
    assert restarted(first, later) == (
        "kube-apiserver on cp1 (https://10.0.0.1:6443): process started "
        "again (1700000000 -> 1700000060)"
    )


def test_an_unreadable_server_is_no_restart_verdict():
    unread = ServerView(CP1, None, "refused")
    assert unread.started() is None
    assert restarted(unread, ServerView(CP1, _metrics.parse(METRICS))) is None
