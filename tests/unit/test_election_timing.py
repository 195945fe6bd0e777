"""RES-08's bound comes from the leader election each component is
configured with, not from an assumed 15 s lease."""

import pytest

from gauntlet.checks.chaos.control_plane import takeover_finding
from gauntlet.checks.chaos.election import (
    ElectionTiming,
    election_timing,
    go_duration_s,
)

SCHEDULER = ("/usr/local/bin/kube-scheduler", "--leader-elect=true")


def test_a_configured_lease_sets_the_bound():
    slow = (*SCHEDULER, "--leader-elect-lease-duration=45s")
    timing = election_timing([slow, slow, slow], 45)
    assert timing.lease_duration_s == 45.0
    assert timing.takeover_bound_s == pytest.approx(45 + 2 * 2 * 2.2)
    assert "--leader-elect-lease-duration on 3 of 3 instances" in timing.source


def test_a_takeover_within_a_configured_long_lease_passes():
    slow = (*SCHEDULER, "--leader-elect-lease-duration=45s")
    timing = election_timing([slow, slow], 45)
    assert takeover_finding("kube-scheduler", 48.0, timing) is None


def test_a_takeover_beyond_the_configured_bound_names_it_and_its_source():
    timing = election_timing([SCHEDULER], 15)
    finding = takeover_finding("kube-scheduler", 30.0, timing)
    assert finding is not None
    assert finding.startswith(
        "kube-scheduler taken over after 30.0s, bound 23.8s (leaseDuration"
    )


def test_the_slowest_instance_counts():
    fast = (*SCHEDULER, "--leader-elect-retry-period=1s")
    slow = (*SCHEDULER, "--leader-elect-retry-period", "4s")
    assert election_timing([fast, slow], 15).retry_period_s == 4.0


def test_an_instance_without_the_flag_runs_with_the_fallback():
    short = (*SCHEDULER, "--leader-elect-lease-duration=10s")
    assert election_timing([short, SCHEDULER], 15).lease_duration_s == 15.0


def test_without_flags_the_lease_object_gives_the_duration():
    timing = election_timing([SCHEDULER], 30)
    assert timing.lease_duration_s == 30.0
    assert "leaseDuration 30s from the Lease's spec" in timing.source
    assert "retryPeriod 2s from the upstream default" in timing.source


def test_without_node_access_or_lease_the_defaults_are_said():
    timing = election_timing(None, None)
    assert (timing.lease_duration_s, timing.retry_period_s) == (15.0, 2.0)
    assert timing.source == (
        "leaseDuration 15s from the upstream default "
        "(--leader-elect-lease-duration not set), retryPeriod 2s from the "
        "upstream default (--leader-elect-retry-period not set) "
        "(command lines not readable (no node access))"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("2.5s", 2.5)],
)
def test_go_durations_are_read(text, seconds):
    assert go_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "15 s", "fast"])
def test_what_is_not_a_go_duration_is_an_error(text):
    with pytest.raises(ValueError, match="not a Go duration"):
        go_duration_s(text)


def test_the_default_bound_is_the_one_client_go_gives():
    timing = ElectionTiming(15.0, 2.0, "defaults")
    assert timing.takeover_bound_s == pytest.approx(23.8)
