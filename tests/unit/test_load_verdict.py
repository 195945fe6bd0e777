"""LOAD-01 judges every request, not only the fast ones.

Before, failed requests were counted but never judged: a run whose every
request got a fast 401 had a small p99 and no 5xx, and passed. Now 401
and 403 refuse the run (a configuration error), other failures spend an
error budget, latency is timed over successes only, and a run without a
single success is never a pass.
"""

from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import pytest

from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.checks.load import slo as check
from gauntlet.errors import GuaranteeViolated
from gauntlet.load.outcomes import NO_RESPONSE, Tally, api_message
from gauntlet.load.runner import LoadResult
from gauntlet.load.scenarios import SCENARIOS
from gauntlet.load.slo import (
    MAX_FAILED_RATIO,
    REQUEST_KINDS,
    error_findings,
    latency_finding,
    latency_stats,
    refusal,
)

CREATE = "CREATE single configmap"
LIST = "LIST namespace configmaps"
FORBIDDEN = (
    '{"kind":"Status","status":"Failure","message":"configmaps is '
    'forbidden: User \\"system:serviceaccount:kg:load\\" cannot create '
    'resource \\"configmaps\\"","reason":"Forbidden","code":403}'
)


def tally(ok=0, ms=10.0, failed=None, name=CREATE):
    out = Tally()
    for _ in range(ok):
        out.success(name, ms)
    for status, n in (failed or {}).items():
        for _ in range(n):
            out.failure(name, status, lambda s=status: f"message {s}")
    return out


def healthy_mix():
    out = Tally()
    for kind in REQUEST_KINDS:
        for _ in range(100):
            out.success(kind, 20.0)
    return out


def test_zero_successful_requests_is_a_finding():
    found = error_findings(tally(failed={500: 3, NO_RESPONSE: 2}))

    assert found and found[0] == "no successful request: 5 of 5 failed"
    assert "500 x3" in found[-1] and "no response x2" in found[-1]


def test_401_refuses_the_run_as_unauthorized_with_the_api_message():
    runs = tally(ok=5)
    runs.failure(CREATE, 401, lambda: api_message('{"message":"Unauthorized"}'))

    assert refusal(runs) == (
        f"unauthorized (401 on {CREATE}, 1 of 6 requests): Unauthorized"
    )


def test_403_refuses_the_run_as_forbidden_naming_the_denied_request():
    runs = Tally()
    runs.failure(CREATE, 403, lambda: api_message(FORBIDDEN))

    found = refusal(runs)

    assert found is not None and found.startswith("forbidden (403 on CREATE")
    assert "cannot create resource" in found


def test_other_failures_are_no_refusal():
    assert refusal(tally(ok=5, failed={500: 1, 404: 1, 429: 1})) is None


def test_failures_over_the_error_budget_are_a_finding():
    assert MAX_FAILED_RATIO == 0.01
    found = error_findings(tally(ok=98, failed={404: 2}))

    assert len(found) == 1
    assert found[0].startswith("failed requests 2.00% over the 1% budget")


def test_failures_within_the_error_budget_pass():
    assert error_findings(tally(ok=999, failed={409: 1})) == []


def test_5xx_over_a_tenth_of_a_percent_is_a_finding_within_the_budget():
    found = error_findings(tally(ok=995, failed={503: 5}))

    assert len(found) == 1 and found[0].startswith("5xx ratio 0.5000%")


def test_fast_failures_do_not_shrink_the_p99():
    runs = tally(ok=50, ms=1500.0)
    for _ in range(5000):
        runs.failure(CREATE, 404, lambda: "not found")

    stat = next(s for s in latency_stats(runs) if s.name == CREATE)

    assert stat.p99_s == 1.5
    assert latency_finding(stat) is not None


def test_a_kind_never_timed_has_no_p99_rather_than_zero():
    stats = {s.name: s for s in latency_stats(tally(ok=10))}

    assert stats["GET single configmap"].p99_s is None
    assert latency_finding(stats["GET single configmap"]) is None
    assert "WATCH namespace configmaps" not in stats  # never timed


def test_a_tally_survives_the_trip_from_the_locust_process():
    runs = tally(ok=3, ms=1234.0, failed={401: 1, NO_RESPONSE: 2})

    again = Tally.from_json(runs.to_json())

    assert again == runs
    assert again.by_status() == {NO_RESPONSE: 2, 401: 1}


def test_a_broken_tally_file_is_a_value_error():
    with pytest.raises(ValueError):
        Tally.from_json('{"timings": {}}')


def test_api_message_reads_a_status_body_or_the_first_line():
    assert api_message(FORBIDDEN).startswith("configmaps is forbidden")
    assert api_message("<html>bad gateway\n</html>") == "<html>bad gateway"
    assert api_message("") == "empty response body"


def test_every_request_of_every_scenario_is_a_known_kind():
    sent = {name for weights in SCENARIOS.values() for name in weights}

    assert sent == set(REQUEST_KINDS)


def context():
    cluster = SimpleNamespace(
        target=SimpleNamespace(in_cluster=False, kubeconfig_path=Path("/k")),
        context="ctx",
    )
    return CheckContext(
        cluster=cluster,
        topology=None,
        namespace="kg-test",
        images=Images("busybox"),
    )


def run_check(monkeypatch, runs):
    result = LoadResult(runs, [], 30.0, "https://api:6443")
    monkeypatch.setattr(check, "run_load", lambda *_a, **_k: result)
    # The fake cluster has no API servers to ask for their own latency.
    monkeypatch.setattr(check, "server_latency", lambda _ctx: nullcontext())
    ctx = context()
    check.check_api_latency_slos(ctx)
    return ctx


def test_the_check_fails_a_run_without_a_single_success(monkeypatch):
    with pytest.raises(GuaranteeViolated, match="no successful request"):
        run_check(monkeypatch, tally(failed={NO_RESPONSE: 40}))


def test_the_check_is_unobserved_when_no_request_was_sent(monkeypatch):
    with pytest.raises(CheckSkipped, match="no request was sent"):
        run_check(monkeypatch, Tally())


def test_the_check_passes_a_healthy_mix_with_every_part_checked(monkeypatch):
    ctx = run_check(monkeypatch, healthy_mix())

    assert {p.status for p in ctx.parts} == {"checked"}
    assert len(ctx.parts) == 1 + len(REQUEST_KINDS) - 1  # WATCH untimed
    assert ctx.measured["successful requests"] == 100 * len(REQUEST_KINDS)
