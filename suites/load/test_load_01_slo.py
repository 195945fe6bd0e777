"""LOAD-01: the API meets its latency SLOs under load."""

import pytest

from gauntlet.checks.load.slo import check_api_latency_slos

pytestmark = [pytest.mark.profile("load")]


@pytest.mark.guarantee("LOAD-01")
@pytest.mark.disruptive
@pytest.mark.faults(
    "API load: 50 req/s from 10 Locust users for 30 s (load.rate, "
    "load.users, load.seconds, load.scenario)"
)
def test_api_calls_meet_latency_slos_under_a_steady_mix(check):
    """Guarantee: under a steady rate of GET, LIST (plain, from the watch
    cache, paged; namespace and cluster scope), CREATE, UPDATE, PATCH,
    DELETE and WATCH, sent with the kubeconfig's own credentials, each
    request kind MUST keep the p99 of its successful requests within its
    upstream SLO (single 1 s, namespace LIST 5 s, cluster LIST 30 s),
    failed requests MUST stay under 1 % and 5xx under 0.1 %."""
    check_api_latency_slos(check)
