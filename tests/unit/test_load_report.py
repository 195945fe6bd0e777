"""What a load check reports: both latency views side by side, plots,
and every unobserved server or request name named."""

import math

import pytest

from gauntlet.checks.context import CheckContext, Images
from gauntlet.checks.load import _report
from gauntlet.load.outcomes import Tally
from gauntlet.load.plan import LoadPlan
from gauntlet.load.runner import LoadResult
from gauntlet.load.server_side import Delta, Histogram, Key, ServerView
from gauntlet.reporting import attach

INF = math.inf
T0 = 1_796_190_000
GET = "GET single configmap"
LIST = "LIST namespace configmaps"
LIST_RV0 = "LIST namespace configmaps rv=0"
CREATE = "CREATE single configmap"


@pytest.fixture
def attached(monkeypatch):
    """Attachments by name (allure's own calls are not the subject)."""
    found = {}
    for fn in ("attach_json", "attach_text", "attach_svg"):
        monkeypatch.setattr(
            attach, fn, lambda name, body, _fn=fn: found.__setitem__(name, body)
        )
    return found


@pytest.fixture
def no_plots(monkeypatch):
    """Plots are drawn in their own test (about 0.5 s each)."""
    monkeypatch.setattr(_report, "_attach_plots", lambda _result: None)


def context(measured):
    return CheckContext(
        cluster=None,
        topology=None,
        namespace="kg-test",
        images=Images("busybox"),
        record=lambda name, value, unit, bound, _span: measured.append(
            (name, value, unit, bound)
        ),
    )


def result(rate=None):
    tally = Tally()
    for i in range(10):
        tally.success(GET, 30, at=T0 + i)
        tally.success(LIST, 80, at=T0 + i)
        tally.success(LIST_RV0, 40, at=T0 + i)
        tally.success(CREATE, 50, at=T0 + i)
    return LoadResult(
        tally,
        [{"name": GET, "num_requests": 10}],
        10.0,
        "https://api:6443",
        started_at=T0,
        ended_at=T0 + 10,
        plan=LoadPlan(rate=rate),
    )


def seen(view):
    return _report.ServerLatency(view=view, unobserved=dict(view.unobserved))


def hist(fast, total):
    return Histogram({0.025: fast, 0.1: total, 1: total, INF: total})


def test_both_views_are_measured_side_by_side_with_the_slo(attached, no_plots):
    view = ServerView(
        {
            "kube-apiserver on cp1": Delta(
                {
                    Key("GET", "configmaps", "resource"): hist(8, 12),
                    Key("LIST", "configmaps", "namespace"): hist(10, 20),
                }
            ),
            "kube-apiserver on cp2": Delta({}),
        },
        {"kube-apiserver on cp3": "/metrics before the run answered 403"},
    )
    measured = []
    _report.report_load(context(measured), result(rate=4.0), seen(view))
    by_name = {m[0]: m for m in measured}
    assert by_name["achieved requests per second"][1] == pytest.approx(4.0)
    assert by_name["target requests per second"][1] == 4.0
    assert by_name[f"{GET} p99 (client)"][1:] == (0.03, "s", 1.0)
    server = by_name[f"{GET} p99 (server)"]
    assert server[1] == pytest.approx(0.025 + 0.075 * (11.88 - 8) / 4)
    assert server[3] == 1.0
    assert by_name[f"{LIST} p99 (server)"][3] == 5.0
    # the rv=0 variant shares the namespace LIST series
    assert (
        by_name[f"{LIST_RV0} p99 (server)"][1]
        == (by_name[f"{LIST} p99 (server)"][1])
    )
    assert f"{CREATE} p99 (server)" not in by_name
    evidence = attached["server-side latency"]
    assert evidence["servers unobserved"] == {
        "kube-apiserver on cp3": "/metrics before the run answered 403"
    }
    assert CREATE in evidence["request names the servers did not count"]
    assert (
        "POST configmaps scope=resource"
        in (evidence["request names the servers did not count"][CREATE])
    )
    table = attached["client and server latency"]
    assert "unobserved: kube-apiserver on cp3" in table
    assert "counts every client's requests" in table


def test_no_server_read_names_every_request_name_unobserved(attached, no_plots):
    view = ServerView({}, {"API servers": "cannot be listed: 403"})
    measured = []
    _report.report_load(context(measured), result(), seen(view))
    assert not [m for m in measured if m[0].endswith("(server)")]
    missing = attached["server-side latency"][
        "request names the servers did not count"
    ]
    assert set(missing) == {GET, LIST, LIST_RV0, CREATE}
    assert set(missing.values()) == {"no API server's metrics could be read"}


def test_a_restarted_server_is_named(attached, no_plots):
    view = ServerView(
        {
            "kube-apiserver on cp1": Delta(
                {Key("GET", "configmaps", "resource"): hist(1, 1)},
                restarted=True,
            )
        }
    )
    _report.report_load(context([]), result(), seen(view))
    assert attached["server-side latency"][
        "servers restarted during the run (counted since)"
    ] == ["kube-apiserver on cp1"]
    assert "restarted during the run" in attached["client and server latency"]


def test_plots_and_locust_stats_are_attached(attached):
    _report.report_load(context([]), result(), None)
    assert attached["locust stats"] == [{"name": GET, "num_requests": 10}]
    assert attached["load over time (every request name)"].startswith(b"<?xml")
    for name in (GET, LIST, LIST_RV0, CREATE):
        assert f"{name} over time" in attached
    assert "server-side latency" not in attached


def test_without_a_server_view_only_the_client_is_measured(attached, no_plots):
    measured = []
    _report.report_load(context(measured), result(), None)
    names = {m[0] for m in measured}
    assert f"{GET} p99 (client)" in names
    assert not [n for n in names if n.endswith("(server)")]


def test_a_report_before_the_after_read_says_so(attached, no_plots):
    """``report_load`` inside the ``with`` block: no server view yet."""
    early = _report.ServerLatency()
    measured = []
    _report.report_load(context(measured), result(), early)
    assert not [m for m in measured if m[0].endswith("(server)")]
    assert attached["server-side latency"]["servers unobserved"] == {
        "API servers": "not read after the run"
    }
