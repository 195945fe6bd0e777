"""The load engine on the lab: rate, workers, request classes, cleanup.

A fixed-rate run must send what it was asked (within 15 %), every request
class of the default scenario must be sent and timed and its watches must
deliver events; a master with two local workers must hold both workers'
requests in its tally (as many as the API servers count and as Locust's
own stats say); a ramp records its steps; an early stop ends the run with
its tally; and nothing the load created is left in the namespace.
"""

from __future__ import annotations

import time

import pytest
from apiserver_counts import successful_requests

from gauntlet.cluster.client import Cluster
from gauntlet.lab.cluster import LabCluster
from gauntlet.load.credentials import Source
from gauntlet.load.plan import LoadPlan, Ramp
from gauntlet.load.runner import LABEL, LoadResult, run_load, start_load
from gauntlet.load.scenarios import SCENARIOS
from gauntlet.load.slo import UNTIMED
from gauntlet.wellknown import LAB_NAME

pytestmark = pytest.mark.lab_only

RATE = 40.0
RATE_TOLERANCE = 0.15
SECONDS = 15
COUNTED_SHARE = 0.9
"""The API servers must count at least this share of the successes the
tally claims (and the tally no more than they count, give or take the
lab's own ConfigMap reads)."""


def _source(lab: LabCluster) -> Source:
    return Source(lab.paths.kubeconfig, LAB_NAME)


def _configmap_reads_counted(cluster: Cluster) -> float:
    """Successful GET and LIST of ConfigMaps, as the API servers count."""
    return successful_requests(
        cluster,
        lambda labels: (
            labels.get("resource") == "configmaps"
            and labels.get("verb") in ("GET", "LIST")
        ),
    )


def _left(cluster: Cluster, namespace: str) -> list[str]:
    items = cluster.core().list_namespaced_config_map(
        namespace, label_selector=LABEL
    )
    return [cm.metadata.name for cm in items.items]


def _assert_rate(result: LoadResult, rate: float) -> None:
    achieved = result.achieved_rate
    assert abs(achieved - rate) <= RATE_TOLERANCE * rate, (
        f"achieved {achieved:.1f} req/s for a target of {rate:g} "
        f"({result.tally.requests} requests in {result.seconds:.1f}s)"
    )


def test_a_fixed_rate_run_sends_every_class_at_its_rate_and_cleans_up(
    lab, cluster, test_namespace
):
    plan = LoadPlan(scenario="default", users=8, rate=RATE, seconds=SECONDS)

    result = run_load(_source(lab), test_namespace, plan)

    tally = result.tally
    _assert_rate(result, RATE)
    for name in SCENARIOS["default"]:
        if name.startswith(UNTIMED):
            assert tally.events.get(name, 0) > 0, f"{name}: no event"
            assert tally.succeeded and name in tally.names(), name
        else:
            assert sum(tally.timings.get(name, {}).values()) > 0, (
                f"{name}: never sent and timed ({tally.failures.get(name)})"
            )
    assert tally.failed <= 0.01 * tally.requests, tally.by_status()
    assert result.leftovers == 0, result.sweep_error or result.leftovers
    assert _left(cluster, test_namespace) == []


@pytest.mark.full_matrix(
    ci=(
        "the in-cluster workers' tallies reach their master through the "
        "same Locust messages"
    )
)
# their master through the same Locust report messages
def test_two_workers_tallies_reach_the_master(lab, cluster, test_namespace):
    plan = LoadPlan(
        scenario="get-and-list", users=8, rate=RATE, seconds=SECONDS, workers=2
    )
    before = _configmap_reads_counted(cluster)

    result = run_load(_source(lab), test_namespace, plan)

    counted = _configmap_reads_counted(cluster) - before
    tally = result.tally
    _assert_rate(result, RATE)
    assert result.unreported_workers == ()
    locust_total = sum(
        int(row.get("num_requests", 0))
        for row in result.locust_stats
        if row.get("name") != "Aggregated"
    )
    assert tally.requests == locust_total, (
        f"the merged tally holds {tally.requests} requests, the workers "
        f"reported {locust_total} to Locust"
    )
    reads = sum(
        sum(tally.timings.get(name, {}).values())
        for name in SCENARIOS["get-and-list"]
    )
    assert counted >= COUNTED_SHARE * reads, (
        f"the API servers counted {counted:.0f} ConfigMap reads, the "
        f"tally claims {reads}"
    )
    assert _left(cluster, test_namespace) == []


@pytest.mark.full_matrix(ci="LOAD-02 ramps and stops early in the load profile")
def test_a_ramp_records_its_steps_and_an_early_stop_keeps_the_tally(
    lab, test_namespace
):
    ramp = Ramp(start_rate=10, step_rate=15, step_s=4, max_rate=40)
    result = run_load(
        _source(lab),
        test_namespace,
        LoadPlan(scenario="get-and-list", users=2, ramp=ramp, workers=1),
    )

    assert [s.rate for s in result.steps] == [10, 25, 40]
    for step, after in zip(result.steps, result.steps[1:], strict=False):
        assert step.end == after.start
    rates = [result.rate_between(s.start, s.end) for s in result.steps]
    assert rates[0] < rates[1] < rates[2], rates
    assert result.users == 4  # 40 req/s needs 4 users at 10 req/s each

    plan = LoadPlan(scenario="get-and-list", users=2, rate=10, seconds=120)
    started = time.monotonic()
    with start_load(_source(lab), test_namespace, plan) as running:
        time.sleep(6)
        running.stop()
        stopped = running.result(timeout=60)
    assert time.monotonic() - started < 45
    assert stopped.tally.succeeded > 0
    assert stopped.seconds < 20
