"""The API servers' own latency view: parsing, deltas, quantiles, names.

The server-side p99 is read from ``apiserver_request_duration_seconds``
before and after a run; these tests pin how the exposition is read, how
a restarted server is named, how Prometheus' ``histogram_quantile``
interpolation is reproduced, and which series each load request name
lands on.
"""

import math
import random

import pytest

from gauntlet.checks.arch import _metrics
from gauntlet.load.server_side import (
    Delta,
    Histogram,
    Key,
    Scrape,
    ServerView,
    delta,
    histogram_quantile,
    merge,
    parse_scrape,
    server_key,
)
from gauntlet.load.slo import REQUEST_KINDS

INF = math.inf
GET_CM = Key("GET", "configmaps", "resource")
LIST_PODS = Key("LIST", "pods", "cluster")


def exposition(series, start=1.7e9):
    """``{(verb, resource, scope, extra_labels): {le: n}}`` as text."""
    lines = [
        "# HELP apiserver_request_duration_seconds [STABLE] Response latency",
        "# TYPE apiserver_request_duration_seconds histogram",
    ]
    for (verb, resource, scope, extra), buckets in series.items():
        labels = (
            f'component="apiserver",dry_run="",resource="{resource}",'
            f'scope="{scope}",verb="{verb}",version="v1"{extra}'
        )
        for le, n in buckets.items():
            bound = "+Inf" if le == INF else f"{le:g}"
            lines.append(
                f"apiserver_request_duration_seconds_bucket{{{labels},"
                f'le="{bound}"}} {n}'
            )
        lines.append(f"apiserver_request_duration_seconds_sum{{{labels}}} 1.5")
        total = buckets[INF]
        lines.append(
            f"apiserver_request_duration_seconds_count{{{labels}}} {total}"
        )
    lines.append(f"process_start_time_seconds {start}")
    return "\n".join(lines) + "\n"


CORE = ',group="",subresource=""'


def test_parse_reads_buckets_by_verb_resource_and_scope():
    text = exposition(
        {
            ("GET", "configmaps", "resource", CORE): {0.1: 3, 1: 4, INF: 4},
            ("LIST", "pods", "cluster", CORE): {0.1: 0, 1: 2, INF: 3},
        }
    )
    scrape = parse_scrape(text)
    assert scrape.started_at == 1.7e9
    assert scrape.histograms[GET_CM].buckets == {0.1: 3, 1: 4, INF: 4}
    assert scrape.histograms[GET_CM].count == 4
    assert scrape.histograms[GET_CM].total_s == 1.5
    assert scrape.histograms[LIST_PODS].count == 3


def test_parse_sums_other_labels_and_leaves_out_groups_and_subresources():
    """component/version differences are one series; pods/status (the
    kubelets') and non-core groups are never the load's."""
    text = exposition(
        {
            ("GET", "configmaps", "resource", CORE): {1: 1, INF: 1},
            (
                "GET",
                "configmaps",
                "resource",
                ',group="",subresource="",x="aggregator"',
            ): {1: 2, INF: 2},
            ("LIST", "pods", "cluster", ',group="",subresource="status"'): {
                1: 9,
                INF: 9,
            },
            (
                "LIST",
                "pods",
                "cluster",
                ',group="metrics.k8s.io",subresource=""',
            ): {1: 7, INF: 7},
        }
    )
    scrape = parse_scrape(text)
    assert scrape.histograms[GET_CM].count == 3
    assert LIST_PODS not in scrape.histograms


def test_a_page_without_the_metric_is_not_an_api_servers():
    with pytest.raises(ValueError, match="not an API server"):
        parse_scrape("etcd_server_has_leader 1\n")


def test_delta_is_what_was_served_between_the_scrapes():
    before = parse_scrape(
        exposition({("GET", "configmaps", "resource", CORE): {1: 5, INF: 6}})
    )
    after = parse_scrape(
        exposition(
            {
                ("GET", "configmaps", "resource", CORE): {1: 15, INF: 17},
                ("LIST", "pods", "cluster", CORE): {1: 1, INF: 2},
            }
        )
    )
    found = delta(before, after)
    assert not found.restarted
    assert found.histograms[GET_CM].buckets == {1: 10, INF: 11}
    assert found.histograms[LIST_PODS].buckets == {1: 1, INF: 2}


def test_unchanged_series_are_left_out_of_the_delta():
    text = exposition({("GET", "configmaps", "resource", CORE): {1: 5, INF: 6}})
    assert delta(parse_scrape(text), parse_scrape(text)).histograms == {}


def test_a_counter_that_went_back_names_a_restarted_server():
    """Without a start time, a lower counter is the restart: the delta is
    what it served since, and it says so (never a negative count)."""
    before = Scrape({GET_CM: Histogram({1: 50, INF: 60})})
    after = Scrape({GET_CM: Histogram({1: 4, INF: 5})})
    found = delta(before, after)
    assert found.restarted
    assert found.histograms[GET_CM].buckets == {1: 4, INF: 5}


def test_a_new_start_time_names_a_restarted_server():
    """Counters that grew past their old values still restarted."""
    series = {("GET", "configmaps", "resource", CORE)}
    before = parse_scrape(exposition({s: {1: 5, INF: 5} for s in series}))
    after = parse_scrape(
        exposition({s: {1: 90, INF: 90} for s in series}, start=1.8e9)
    )
    found = delta(before, after)
    assert found.restarted
    assert found.histograms[GET_CM].count == 90


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, {0.1: 50, 0.2: 100, INF: 100}, 0.1),
        (0.75, {0.1: 50, 0.2: 100, INF: 100}, 0.15),
        (0.5, {0.005: 10, INF: 10}, 0.0025),  # lowest bucket starts at 0
        (0.99, {0.1: 50, 0.2: 90, INF: 100}, 0.2),  # rank in +Inf
        (0.5, {0.1: 0, 0.2: 0, 0.4: 10, INF: 10}, 0.3),
        (0.0, {0.1: 5, INF: 5}, 0.0),
        (1.0, {0.1: 5, 0.2: 10, INF: 10}, 0.2),
    ],
)
def test_quantile_interpolates_like_prometheus(q, buckets, expected):
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_quantile_without_observations_is_none_never_zero():
    assert histogram_quantile(0.99, {}) is None
    assert histogram_quantile(0.99, {0.1: 0, INF: 0}) is None
    assert histogram_quantile(0.99, {0.1: 3, 0.2: 3}) is None  # no +Inf


def test_quantile_of_only_an_inf_bucket_has_no_bound_to_give():
    assert histogram_quantile(0.5, {INF: 4}) is None


def test_quantile_outside_zero_to_one_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        histogram_quantile(1.5, {INF: 1})


def test_non_monotonic_buckets_are_fixed_as_prometheus_does():
    """A delta taken while counters moved may dip; the running maximum
    keeps the rank search sane."""
    dipped = {0.1: 2, 0.2: 1, 0.4: 10, INF: 10}
    assert histogram_quantile(0.5, dipped) == pytest.approx(0.2 + 0.2 * 3 / 8)


def test_quantile_agrees_with_the_etcd_checks_copy():
    """``checks/arch/_metrics`` has the same interpolation for etcd."""
    rng = random.Random(14)
    bounds = [0.005, 0.025, 0.1, 0.4, 1, 5, 60, INF]
    for _ in range(200):
        counts, total = {}, 0
        for le in bounds:
            total += rng.randint(0, 20)
            counts[le] = total
        if total == 0:
            continue
        q = rng.choice([0.5, 0.9, 0.99])
        assert histogram_quantile(q, counts) == pytest.approx(
            _metrics.histogram_quantile(q, counts)
        )


def test_merge_keeps_the_bounds_every_server_has():
    one = Histogram({0.1: 1, 0.2: 2, INF: 2}, 0.3)
    two = Histogram({0.1: 4, 0.15: 5, INF: 6}, 1.0)
    merged = merge([one, None, two])
    assert merged is not None
    assert merged.buckets == {0.1: 5, INF: 8}
    assert merged.total_s == pytest.approx(1.3)
    assert merge([None, None]) is None


def test_view_gives_each_server_and_all_together():
    view = ServerView(
        {
            "cp1": Delta({GET_CM: Histogram({0.1: 90, 1: 100, INF: 100})}),
            "cp2": Delta({GET_CM: Histogram({0.1: 0, 1: 100, INF: 100})}),
            "cp3": Delta({}),
        },
        {"cp4": "/metrics before the run answered 403"},
    )
    cp1 = view.latency(GET_CM, "cp1")
    assert (cp1.count, cp1.p50_s) == (100, pytest.approx(0.1 * 50 / 90))
    both = view.latency(GET_CM)
    assert both.count == 200
    assert both.p50_s == pytest.approx(0.1 + 0.9 * (100 - 90) / 110)
    assert both.p99_s == pytest.approx(0.1 + 0.9 * (198 - 90) / 110)
    none = view.latency(GET_CM, "cp3")
    assert (none.count, none.p99_s) == (0, None)
    assert view.latency(LIST_PODS).p99_s is None
    summary = view.summary([GET_CM])
    assert set(summary["GET configmaps scope=resource"]) == {
        "all servers",
        "cp1",
        "cp2",
        "cp3",
    }


def test_watch_is_counted_never_timed():
    """A WATCH's server duration is the stream's lifetime."""
    watch = Key("WATCH", "configmaps", "namespace")
    view = ServerView({"cp1": Delta({watch: Histogram({60: 3, INF: 4})})})
    found = view.latency(watch)
    assert (found.count, found.p50_s, found.p99_s) == (4, None, None)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("GET single configmap", ("GET", "configmaps", "resource")),
        ("LIST namespace configmaps", ("LIST", "configmaps", "namespace")),
        ("LIST namespace configmaps rv=0", ("LIST", "configmaps", "namespace")),
        (
            "LIST namespace configmaps paged",
            ("LIST", "configmaps", "namespace"),
        ),
        ("LIST cluster pods", ("LIST", "pods", "cluster")),
        ("LIST cluster pods rv=0", ("LIST", "pods", "cluster")),
        ("LIST cluster pods paged", ("LIST", "pods", "cluster")),
        ("CREATE single configmap", ("POST", "configmaps", "resource")),
        ("UPDATE single configmap", ("PUT", "configmaps", "resource")),
        ("PATCH single configmap", ("PATCH", "configmaps", "resource")),
        ("DELETE single configmap", ("DELETE", "configmaps", "resource")),
        ("WATCH namespace configmaps", ("WATCH", "configmaps", "namespace")),
    ],
)
def test_request_names_land_on_the_servers_series(name, key):
    assert server_key(name) == Key(*key)


def test_every_request_kind_of_the_mix_has_a_series():
    for name in REQUEST_KINDS:
        server_key(name)


@pytest.mark.parametrize(
    "name", ["", "GET configmap", "FETCH single configmap", "GET all x"]
)
def test_a_name_outside_the_scheme_is_an_error(name):
    with pytest.raises(ValueError, match="not a load request name"):
        server_key(name)


def test_the_real_exposition_format_parses():
    """A line as kube-apiserver v1.37 writes it (seen on the lab)."""
    text = (
        'apiserver_request_duration_seconds_bucket{component="apiserver",'
        'dry_run="",group="",resource="configmaps",scope="resource",'
        'subresource="",verb="POST",version="v1",le="+Inf"} 6\n'
        'apiserver_request_duration_seconds_bucket{component="apiserver",'
        'dry_run="",group="",resource="configmaps",scope="resource",'
        'subresource="",verb="POST",version="v1",le="0.005"} 6\n'
        "process_start_time_seconds 1.79619346778e+09\n"
    )
    scrape = parse_scrape(text)
    post = scrape.histograms[Key("POST", "configmaps", "resource")]
    assert post.buckets == {0.005: 6, INF: 6}
    assert scrape.started_at == pytest.approx(1.79619346778e9)
