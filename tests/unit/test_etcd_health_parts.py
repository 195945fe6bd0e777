"""ARCH-13 never passes what it did not see: an empty window is
unobserved, a member not running or not scraped is a finding."""

from dataclasses import replace

import pytest
from etcd_fakes import FakeEtcd, FakeNodes, context, etcd_argv, member, topology

from gauntlet.checks.arch import _metrics as m
from gauntlet.checks.arch.etcd_health import (
    Bounds,
    Reading,
    check_etcd_is_healthy,
    fold,
    judge,
    not_running,
)
from gauntlet.errors import GuaranteeViolated

BOUNDS = Bounds(fsync_p99_ms=10, commit_p99_ms=25, db_quota_pct=80)
FSYNC = "etcd_disk_wal_fsync_duration_seconds"
COMMIT = "etcd_disk_backend_commit_duration_seconds"
CPS = ("cp1", "cp2", "cp3")


def exposition(observations, leader_changes=1, has_leader=1, db=1 << 20):
    lines = []
    for metric in (FSYNC, COMMIT):
        for le in ("0.001", "0.002", "+Inf"):
            lines.append(f'{metric}_bucket{{le="{le}"}} {observations}')
    lines += [
        f"etcd_server_leader_changes_seen_total {leader_changes}",
        f"etcd_server_has_leader {has_leader}",
        f"etcd_mvcc_db_total_size_in_bytes {db}",
        f"etcd_server_quota_backend_bytes {2 << 30}",
    ]
    return "\n".join(lines) + "\n"


def by_part(readings):
    return {r.part: r for r in readings}


def test_a_window_with_samples_is_judged_in_every_part():
    first, last = m.parse(exposition(10)), m.parse(exposition(20))
    readings = by_part(judge("cp1", first, last, BOUNDS))

    assert all(not r.unobserved and not r.findings for r in readings.values())
    assert readings["WAL fsync p99"].measures[0][0] == (
        "etcd WAL fsync p99 on cp1"
    )


def test_a_window_without_samples_leaves_the_latencies_unobserved():
    same = m.parse(exposition(10))
    readings = by_part(judge("cp1", same, same, BOUNDS))

    assert readings["WAL fsync p99"].unobserved == (
        "cp1: no WAL fsync in the window"
    )
    assert readings["backend commit p99"].unobserved == (
        "cp1: no backend commit in the window"
    )
    assert readings["WAL fsync p99"].findings == ()
    assert not readings["leadership"].unobserved


def test_missing_metrics_are_unobserved_never_zero():
    empty = m.parse("")
    readings = judge("cp1", empty, empty, BOUNDS)

    assert all(r.unobserved for r in readings), readings
    assert all(r.findings == () for r in readings)
    assert "not exposed" in by_part(readings)["leadership"].unobserved


def test_a_part_no_member_observed_is_unobserved():
    ctx = context(topology())
    fold(
        ctx,
        "WAL fsync p99",
        [
            Reading("WAL fsync p99", "cp1", unobserved="cp1: no WAL fsync"),
            Reading("WAL fsync p99", "cp2", unobserved="cp2: no WAL fsync"),
        ],
    )
    fold(ctx, "leadership", [])

    assert [(p.status, p.reason) for p in ctx.parts] == [
        ("unobserved", "cp1: no WAL fsync; cp2: no WAL fsync"),
        ("unobserved", "no member's metrics were scraped"),
    ]


def test_a_part_some_members_observed_counts_the_others():
    ctx = context(topology())
    fold(
        ctx,
        "WAL fsync p99",
        [
            Reading("WAL fsync p99", "cp1", ("etcd on cp1: slow",)),
            Reading("WAL fsync p99", "cp2", unobserved="cp2: no WAL fsync"),
        ],
    )

    assert ctx.parts[0].status == "violated"
    assert ctx.parts[0].findings == ("etcd on cp1: slow",)
    assert ctx.measured["etcd members unobserved (WAL fsync p99)"] == 1


def test_members_not_running_or_never_started_are_named():
    unstarted = replace(member("cp3", "3"), client_urls=(), node=None)
    found = not_running(
        [member("cp1", "1"), member("cp2", "2"), unstarted],
        {"cp1": object()},
    )

    assert found[0].startswith("etcd on cp2: not running (cp2 (2,")
    assert found[1].startswith("etcd member cp3 (3,")
    assert found[1].endswith("never started")


def test_a_member_not_scraped_or_not_running_fails_the_check():
    nodes = FakeNodes(
        processes={"cp1": [etcd_argv("cp1")], "cp2": [etcd_argv("cp2")]},
        metrics={
            "cp1": [exposition(10), exposition(20)],
            "cp2": "curl: (7) Failed to connect to 127.0.0.1 port 2381",
        },
    )
    etcd = FakeEtcd([member(n, str(i)) for i, n in enumerate(CPS, 1)])
    parts = []
    ctx = context(topology(), nodes=nodes, etcd=etcd, parts=parts)

    with pytest.raises(GuaranteeViolated) as caught:
        check_etcd_is_healthy(ctx, observe_s=0)

    message = str(caught.value)
    assert "etcd on cp2: metrics not scraped: http://127.0.0.1:2381: " in (
        message
    )
    assert "etcd on cp3: not running (cp3 (3," in message
    assert {p.name: p.status for p in parts} == {
        "members running": "violated",
        "WAL fsync p99": "checked",
        "backend commit p99": "checked",
        "leadership": "checked",
        "database size": "checked",
        "alarms": "checked",
    }


def test_an_idle_window_passes_only_the_parts_it_saw():
    nodes = FakeNodes(
        processes={n: [etcd_argv(n)] for n in CPS},
        metrics={n: [exposition(10), exposition(10)] for n in CPS},
    )
    etcd = FakeEtcd([member(n, str(i)) for i, n in enumerate(CPS, 1)])
    parts = []
    ctx = context(topology(), nodes=nodes, etcd=etcd, parts=parts)

    check_etcd_is_healthy(ctx, observe_s=0)

    statuses = {p.name: p.status for p in parts}
    assert statuses["WAL fsync p99"] == "unobserved"
    assert statuses["backend commit p99"] == "unobserved"
    assert statuses["leadership"] == "checked"


def test_without_node_access_only_the_alarms_are_observed():
    parts = []
    ctx = context(topology(), etcd=FakeEtcd([member("cp1")]), parts=parts)

    check_etcd_is_healthy(ctx, observe_s=0)

    reasons = {p.name: (p.status, p.reason) for p in parts}
    unobserved = "metrics are scraped on the nodes: node access is not"
    assert reasons["members running"][0] == "unobserved"
    assert reasons["WAL fsync p99"] == (
        "unobserved",
        f"no metrics: {unobserved} configured",
    )
    assert reasons["database size"] == reasons["WAL fsync p99"]
    assert reasons["alarms"] == ("checked", "")


def test_a_raised_alarm_is_kept_when_the_metrics_are_unobserved():
    alarm = {"alarm": "NOSPACE", "memberID": 10}
    ctx = context(topology(), etcd=FakeEtcd([member("cp1")], alarms=[alarm]))

    with pytest.raises(GuaranteeViolated, match="NOSPACE on member a"):
        check_etcd_is_healthy(ctx, observe_s=0)
