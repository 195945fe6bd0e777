"""The load engine's pure parts: per-second outcomes, merging workers'
tallies, plans, scenarios and the pace of a user at a fixed rate.

Nothing here imports locust (it would monkey-patch this process)."""

import json
import math
import socket
import tempfile
import time
from itertools import pairwise

import pytest

from gauntlet.errors import UsageError
from gauntlet.load.credentials import Source
from gauntlet.load.outcomes import NO_RESPONSE, Second, Tally
from gauntlet.load.pace import MAX_BACKLOG_S, MAX_USER_RATE, Pacer, users_for
from gauntlet.load.plan import (
    THINK_S,
    LoadPlan,
    Ramp,
    plan_from_json,
    plan_to_json,
    think_from_text,
    think_to_text,
)
from gauntlet.load.runner import (
    CLEANUP_S,
    ENV_THINK,
    STOP_TIMEOUT_S,
    SWEEP_TIMEOUT_S,
    LoadResult,
    RunningLoad,
)
from gauntlet.load.scenarios import SCENARIOS, shares
from gauntlet.load.slo import REQUEST_KINDS, latency_stats

GET = "GET single configmap"
LIST = "LIST namespace configmaps"
WATCH = "WATCH namespace configmaps"
T0 = 1_800_000_000.0


def test_each_outcome_lands_in_its_wall_clock_second():
    tally = Tally()
    tally.success(GET, 12.4, at=T0 + 0.2)
    tally.success(GET, 250.0, at=T0 + 0.9)
    tally.failure(GET, 503, lambda: "busy", at=T0 + 1.5)

    assert tally.series[GET][int(T0)] == Second(ok=2, times={12: 1, 250: 1})
    assert tally.series[GET][int(T0) + 1] == Second(failed={503: 1})
    assert tally.timings[GET] == {12: 1, 250: 1}


def test_a_window_is_rebuilt_from_the_seconds_it_holds():
    tally = Tally()
    for i in range(10):
        tally.success(GET, 10.0 + i, at=T0 + i)
    tally.failure(LIST, 500, lambda: "etcd", at=T0 + 7)
    tally.event(WATCH, 3, at=T0 + 8)

    window = tally.window(T0 + 5, T0 + 9)

    assert window.timings[GET] == {15: 1, 16: 1, 17: 1, 18: 1}
    assert window.failures == {LIST: {500: 1}}
    assert window.first[500].message == "etcd"
    assert window.events == {WATCH: 3}
    assert tally.window(T0 + 20, T0 + 30).requests == 0


def test_back_to_back_windows_share_no_second():
    tally = Tally()
    for i in range(30):
        tally.success(GET, 5.0, at=T0 + i)
    cuts = [T0 + 0.3, T0 + 10.3, T0 + 20.3, T0 + 30.3]

    parts = [tally.window(a, b).requests for a, b in pairwise(cuts)]

    assert sum(parts) == 30
    assert parts == [10, 10, 10]


def test_merging_workers_tallies_adds_everything_and_keeps_the_first():
    master, one, two = Tally(), Tally(), Tally()
    one.success(GET, 10.0, at=T0)
    one.failure(GET, 500, lambda: "first", at=T0)
    two.success(GET, 10.0, at=T0)
    two.failure(LIST, 500, lambda: "second", at=T0 + 1)
    two.event(WATCH, 4, at=T0)

    master.merge(one)
    master.merge(Tally.from_json(two.to_json()))

    assert master.requests == 4
    assert master.series[GET][int(T0)] == Second(
        ok=2, failed={500: 1}, times={10: 2}
    )
    assert master.first[500].message == "first"
    assert master.events == {WATCH: 4}


def test_the_json_carries_the_series_and_reads_an_old_tally():
    tally = Tally()
    tally.success(GET, 3.0, at=T0)
    tally.failure(GET, NO_RESPONSE, lambda: "reset", at=T0)
    tally.event(WATCH, 2, at=T0)

    again = Tally.from_json(tally.to_json())
    old = json.loads(tally.to_json())
    del old["series"], old["events"]

    assert again == tally
    assert Tally.from_json(json.dumps(old)).series == {}


def test_a_broken_series_is_a_value_error():
    text = json.loads(Tally().to_json())
    text["series"] = {GET: {"1": {"ok": 1, "failed": [], "times": {}}}}
    with pytest.raises(ValueError):
        Tally.from_json(json.dumps(text))


def test_a_ramp_steps_up_to_its_maximum():
    assert Ramp(10, 10, 5, 40).rates() == (10, 20, 30, 40)
    assert Ramp(10, 15, 5, 40).rates() == (10, 25, 40)
    assert Ramp(10, 10, 5, 40).seconds == 20
    assert Ramp(10, 10, 5, 10).rates() == (10,)


def test_the_rate_of_a_ramped_plan_follows_its_steps():
    plan = LoadPlan(ramp=Ramp(10, 10, 5, 30))

    assert [plan.rate_at(t) for t in (0, 4.9, 5, 9.9, 10, 99)] == [
        10,
        10,
        20,
        20,
        30,
        30,
    ]
    assert plan.duration_s == 15
    assert LoadPlan(rate=7.0).rate_at(3) == 7.0
    assert LoadPlan().rate_at(3) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "storm"}, "unknown; one of"),
        ({"rate": -1.0}, "not a rate > 0"),
        ({"rate": math.inf}, "not a rate > 0"),
        ({"users": 0}, "0 users"),
        ({"seconds": 0}, "0s"),
        ({"workers": -1}, "negative number of workers"),
        ({"rate": 5.0, "ramp": Ramp(1, 1, 1, 2)}, "exclusive"),
        ({"think_s": (0.2, 0.1)}, "think time"),
        ({"think_s": (-1.0, 0.0)}, "think time"),
        ({"think_s": (0.0, math.inf)}, "think time"),
        ({"think_s": (math.nan, 1.0)}, "think time"),
    ],
)
def test_a_bad_plan_is_refused_where_it_is_made(kwargs, message):
    with pytest.raises(UsageError, match=message):
        LoadPlan(**kwargs)


def test_a_bad_ramp_is_refused():
    with pytest.raises(UsageError, match="below the start rate"):
        Ramp(20, 5, 5, 10)
    with pytest.raises(UsageError, match="step of 0s"):
        Ramp(1, 1, 0, 2)


def test_a_plan_crosses_to_the_locust_process_intact():
    plan = LoadPlan(scenario="list-storm", workers=2, ramp=Ramp(5, 5, 3, 20))

    assert plan_from_json(plan_to_json(plan)) == plan
    with pytest.raises(ValueError):
        plan_from_json('{"users": 1, "bogus": 2}')


def test_no_think_time_crosses_to_every_process():
    plan = LoadPlan(think_s=(0, 0), workers=2)

    assert plan_from_json(plan_to_json(plan)) == plan
    assert plan_from_json(plan_to_json(LoadPlan())).think_s == THINK_S
    assert think_from_text(think_to_text((0, 0))) == (0.0, 0.0)
    assert think_from_text(think_to_text(THINK_S)) == THINK_S
    assert "no think time" in plan.describe()
    for bad in ("", "0", "1,0", "0,x", "0,1,2", "-1,0"):
        with pytest.raises(ValueError):
            think_from_text(bad)


def test_workers_get_the_think_time_in_their_environment(tmp_path):
    tmp = tempfile.TemporaryDirectory(dir=tmp_path)
    running = RunningLoad(
        Source(tmp_path / "kubeconfig", None),
        "ns",
        LoadPlan(think_s=(0, 0), workers=1),
        "https://api.example.test",
        tmp,
    )
    try:
        env = running.worker_env()
    finally:
        tmp.cleanup()

    assert think_from_text(env[ENV_THINK]) == (0.0, 0.0)


def test_every_scenario_sends_known_kinds_with_shares_summing_to_one():
    for name, weights in SCENARIOS.items():
        assert set(weights) <= set(REQUEST_KINDS), name
        assert math.isclose(sum(shares(name).values()), 1.0)
    assert set(SCENARIOS) >= {
        "default",
        "read-heavy",
        "write-heavy",
        "list-storm",
        "get-and-list",
    }
    assert shares("get-and-list") == {GET: 0.5, LIST: 0.5}


def test_the_default_scenario_sends_every_request_kind():
    assert set(SCENARIOS["default"]) == set(REQUEST_KINDS)


def test_new_list_variants_take_their_scope_s_slo():
    tally = Tally()
    for kind in REQUEST_KINDS:
        tally.success(kind, 5.0)
    bounds = {s.name: s.bound_s for s in latency_stats(tally)}

    assert bounds["LIST namespace configmaps rv=0"] == 5.0
    assert bounds["LIST cluster pods paged"] == 30.0
    assert bounds["PATCH single configmap"] == 1.0
    assert WATCH not in bounds


def test_a_paced_user_sends_at_its_rate():
    pacer, now, sent_at = Pacer(), 0.0, []
    for _ in range(50):
        now += pacer.wait(1, now, rate=5.0, phase=0.0)
        sent_at.append(now)
        now += 0.01  # a fast answer

    assert math.isclose(sent_at[-1] - sent_at[0], 49 / 5.0, rel_tol=0.01)


def test_a_task_of_several_requests_counts_each():
    pacer = Pacer()
    pacer.wait(1, 0.0, rate=10.0, phase=0.0)

    assert math.isclose(pacer.wait(3, 0.0, rate=10.0, phase=0.0), 0.3)


def test_a_late_user_catches_up_a_second_at_most():
    pacer = Pacer()
    pacer.wait(1, 0.0, rate=10.0, phase=0.0)
    late = 5.0  # one answer took 5 s

    waits = [pacer.wait(1, late, rate=10.0, phase=0.0) for _ in range(20)]

    # one answer's 5 s: 1 s of requests sent back to back, the rest lost
    assert waits.count(0.0) in (MAX_BACKLOG_S * 10, MAX_BACKLOG_S * 10 + 1)
    assert waits[-1] > 0


def test_the_phase_spreads_users_first_requests():
    assert Pacer().wait(0, 100.0, rate=4.0, phase=0.5) == 0.125


def test_a_high_rate_gets_more_users():
    assert users_for(None, 10) == 10
    assert users_for(50.0, 10) == 10
    assert users_for(10 * MAX_USER_RATE + 1, 10) == 11


def test_the_achieved_rate_counts_only_while_the_users_ran():
    tally = Tally()
    for i in range(10):
        for _ in range(20):
            tally.success(GET, 5.0, at=T0 + i + 0.1)
    for _ in range(100):  # the users' cleanup after the stop
        tally.success("DELETE single configmap", 5.0, at=T0 + 10.2)
    result = LoadResult(
        tally,
        [],
        10.0,
        "https://api:6443",
        started_at=T0,
        ended_at=T0 + 10.0,
        plan=LoadPlan(rate=20.0),
    )

    assert result.achieved_rate == 20.0
    assert result.target_rate == 20.0
    assert result.rate_between(T0 + 2, T0 + 4) == 20.0


def test_a_request_answered_after_the_end_counts_in_the_second_it_was_sent():
    tally = Tally()
    tally.success(LIST, 4000.0, at=T0 + 9.5)  # in flight at the end
    tally.success("DELETE single configmap", 5.0, at=T0 + 10.2)  # cleanup
    result = LoadResult(
        tally, [], 10.0, "https://api:6443", started_at=T0, ended_at=T0 + 10
    )

    run = tally.window(result.started_at, result.ended_at)
    assert run.requests == 1
    assert run.succeeded == 1


def test_the_users_stop_within_seconds_of_the_end():
    # Locust's grace for the request in flight, then the users' bounded
    # cleanup: a starved API does not hold the end for a minute.
    assert CLEANUP_S < STOP_TIMEOUT_S <= 10


def test_the_sweep_of_a_silent_api_is_an_error_within_its_timeout(tmp_path):
    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "c",
                            "cluster": {
                                "server": f"https://127.0.0.1:{port}",
                                "insecure-skip-tls-verify": True,
                            },
                        }
                    ],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [
                        {"name": "x", "context": {"cluster": "c", "user": "u"}}
                    ],
                    "current-context": "x",
                }
            )
        )
        tmp = tempfile.TemporaryDirectory(dir=tmp_path)
        running = RunningLoad(
            Source(kubeconfig, None), "ns", LoadPlan(), "https://x", tmp
        )
        began = time.monotonic()
        try:
            swept = running._sweep()
        finally:
            tmp.cleanup()
        took = time.monotonic() - began

    assert swept["leftovers"] is None
    assert "kg-load-run=" in swept["sweep_error"]
    assert took < SWEEP_TIMEOUT_S + 2
