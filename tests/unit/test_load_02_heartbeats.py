"""LOAD-02's system traffic: node Lease gaps, Ready, health answers."""

from datetime import UTC, datetime
from types import SimpleNamespace

from gauntlet.checks.load._health import Probe, summarise
from gauntlet.checks.load._heartbeats import (
    gap_bound_s,
    lease_gaps,
    lease_renewals,
    not_ready_during,
    readiness,
)
from gauntlet.observe.watch import Seen

T0 = 1_700_000_000.0


def test_the_gap_bound_is_two_renew_periods():
    assert gap_bound_s(40) == 20
    assert gap_bound_s(None) == 20
    assert gap_bound_s(60) == 30


def test_renewals_every_ten_seconds_keep_their_period():
    times = [T0 - 4 + 10 * i for i in range(8)]
    gap = lease_gaps("w1", times, T0, T0 + 60, 20)
    assert gap.gap_s == 10 and not gap.over and gap.renewals == 7


def test_a_missed_renewal_and_a_late_one_is_a_gap():
    times = [T0 - 4, T0 + 6, T0 + 31, T0 + 41]
    gap = lease_gaps("w1", times, T0, T0 + 45, 20)
    assert gap.gap_s == 25 and gap.over
    assert gap.finding() == (
        "node w1: Lease not renewed for 25s (bound 20s, 4 renewals seen)"
    )


def test_no_renewal_after_the_start_counts_to_the_end():
    gap = lease_gaps("w1", [T0 - 9], T0, T0 + 40, 20)
    assert gap.gap_s == 49 and gap.over


def test_a_lease_never_seen_renewed_is_a_gap_of_the_whole_window():
    gap = lease_gaps("w1", [], T0, T0 + 30, 20)
    assert gap.gap_s == 30 and gap.renewals == 0


def _lease(renewed: float, duration: int = 40) -> SimpleNamespace:
    when = datetime.fromtimestamp(renewed, UTC)
    return SimpleNamespace(
        spec=SimpleNamespace(renew_time=when, lease_duration_seconds=duration)
    )


def test_renew_times_come_from_the_watch_history():
    history = [
        Seen(T0, "LISTED", _lease(T0 - 3)),
        Seen(T0 + 7, "MODIFIED", _lease(T0 + 7)),
        Seen(T0 + 8, "DELETED", _lease(T0 + 7)),
    ]
    assert lease_renewals(history) == ([T0 - 3, T0 + 7], 40)


def _node(ready: str) -> SimpleNamespace:
    condition = SimpleNamespace(type="Ready", status=ready)
    return SimpleNamespace(status=SimpleNamespace(conditions=[condition]))


def test_a_node_that_leaves_ready_is_named_with_its_status():
    history = [
        Seen(T0 - 1, "LISTED", _node("True")),
        Seen(T0 + 50, "MODIFIED", _node("Unknown")),
        Seen(T0 + 70, "MODIFIED", _node("True")),
    ]
    found = readiness("w2", history, T0)
    assert found.ready_at_start and found.not_ready == ("Unknown",)
    assert not_ready_during([found]) == ["w2 (Ready=Unknown)"]


def test_a_node_not_ready_before_the_ramp_is_not_blamed_on_it():
    history = [Seen(T0 - 1, "LISTED", _node("False"))]
    found = readiness("w2", history, T0)
    assert not found.ready_at_start
    assert not_ready_during([found]) == []


def _probe(at: float, status: int | None, latency: float = 0.01) -> Probe:
    return Probe("cp1", "/readyz", T0 + at, latency, status, "")


def test_one_bad_health_answer_is_reported_not_a_finding():
    probes = [_probe(0, 200), _probe(0.5, 500), _probe(1, 200)]
    (summary,) = summarise(probes)
    assert summary.bad == 1 and summary.finding() is None
    assert summary.first_bad == "500"


def test_bad_health_answers_in_a_row_are_a_finding():
    probes = [_probe(0, 200), _probe(0.5, None, 5.0), _probe(6, 200, 5.5)]
    (summary,) = summarise(probes)
    assert summary.longest_bad_run == 2
    assert summary.finding() == (
        "cp1 /readyz: 2 bad answers in a row (2 of 3; first: no answer "
        "after 5.0s ())"
    )
    assert summary.max_s == 5.5
