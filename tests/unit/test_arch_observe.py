"""Pure helpers of the ARCH checks: percentiles, names, event reporters."""

from datetime import UTC, datetime

import pytest
from kubernetes import client

from gauntlet.checks.arch.pod_flow import STARTUP_PODS_ENV, startup_pod_count
from gauntlet.errors import UsageError
from gauntlet.observe.watch import (
    event_reporter,
    joined,
    percentile,
    seconds,
    unique,
)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.0
    assert percentile(values, 99) == 10.0
    assert percentile([3.0], 99) == 3.0


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 50)


def test_seconds_truncates_and_makes_aware():
    naive = datetime(2026, 1, 2, 3, 4, 5, 999_999)
    assert seconds(naive) == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_joined_caps_the_list():
    assert joined(["a", "b"]) == "a, b"
    assert joined([str(i) for i in range(7)], 3) == "0, 1, 2 (+4 more)"


def test_unique_names_differ():
    assert unique("x").startswith("x-")
    assert len({unique("x") for _ in range(20)}) > 1


def test_event_reporter_prefers_reporting_fields_over_source():
    new = client.CoreV1Event(
        involved_object=client.V1ObjectReference(),
        metadata=client.V1ObjectMeta(),
        reporting_component="kubelet",
        reporting_instance="w1",
        source=client.V1EventSource(component="other", host="w9"),
    )
    old = client.CoreV1Event(
        involved_object=client.V1ObjectReference(),
        metadata=client.V1ObjectMeta(),
        source=client.V1EventSource(component="kubelet", host="w2"),
    )
    assert event_reporter(new) == ("kubelet", "w1")
    assert event_reporter(old) == ("kubelet", "w2")


def test_startup_pod_count_reads_the_environment(monkeypatch):
    monkeypatch.delenv(STARTUP_PODS_ENV, raising=False)
    assert startup_pod_count() == 10
    monkeypatch.setenv(STARTUP_PODS_ENV, "25")
    assert startup_pod_count() == 25
    for bad in ("0", "-3", "ten"):
        monkeypatch.setenv(STARTUP_PODS_ENV, bad)
        with pytest.raises(UsageError):
            startup_pod_count()
