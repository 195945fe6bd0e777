"""The pure half of benchmarks/load_vs_reference.py
(``load_vs_reference_figures``): wrk's summary line, the steady window of
a Locust run, percentiles and the ratio verdict."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

SCRIPT = (
    Path(__file__).resolve().parents[2]
    / "benchmarks"
    / "load_vs_reference_figures.py"
)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "load_vs_reference_figures", SCRIPT
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()

WRK_OUT = """Running 30s test @ https://10.250.0.1:6443/
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    40.12ms   20.01ms 300.00ms   80.00%
  14850 requests in 30.01s, 40.00MB read
Requests/sec:    494.85
Transfer/sec:      1.33MB
KGWRK requests=14850 duration_us=30010000 connect=0 read=1 write=0 \
status=2 timeout=3 p50_us=37000 p99_us=129500
"""


def test_wrk_summary_line_is_parsed_into_figures() -> None:
    summary = bench.parse_wrk(WRK_OUT)
    figures = bench.wrk_figures(
        summary, threads=2, connections=20, cpu_s=1.5, busy_pct=90.0
    )
    assert figures.requests == 14850
    assert figures.seconds == pytest.approx(30.01)
    assert figures.rate == pytest.approx(14850 / 30.01)
    assert figures.failures == 6
    assert (figures.p50_ms, figures.p99_ms) == (37.0, 129.5)
    assert figures.processes == "1 (2 threads, 20 connections)"


def test_wrk_output_without_summary_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="no KGWRK"):
        bench.parse_wrk("Requests/sec: 494.85\n")


def test_wrk_summary_missing_a_field_is_an_error() -> None:
    with pytest.raises(ValueError, match="lacks p99_us"):
        bench.parse_wrk(
            "KGWRK requests=1 duration_us=1 connect=0 read=0 write=0 "
            "status=0 timeout=0 p50_us=1\n"
        )


def test_wrk_summary_with_a_non_number_is_an_error() -> None:
    with pytest.raises(ValueError, match="non-number"):
        bench.parse_wrk(WRK_OUT.replace("status=2", "status=x"))


def test_wrk_with_no_request_has_no_latency() -> None:
    summary = bench.parse_wrk(
        "KGWRK requests=0 duration_us=30000000 connect=20 read=0 write=0 "
        "status=0 timeout=0 p50_us=0 p99_us=0\n"
    )
    figures = bench.wrk_figures(
        summary, threads=2, connections=20, cpu_s=0.1, busy_pct=9.0
    )
    assert figures.p50_ms is None and figures.p99_ms is None
    assert figures.failures == 20 and figures.rate == 0.0


def test_steady_window_leaves_out_spawn_and_last_partial_second() -> None:
    series = {100: 5, 101: 50, 102: 90, 103: 100, 104: 100, 105: 100, 106: 7}
    assert bench.steady_window(series, warmup_s=3) == (300, 3)


def test_steady_window_counts_silent_seconds_inside_the_window() -> None:
    series = {10: 1, 11: 1, 12: 1, 13: 10, 15: 10, 16: 1}
    assert bench.steady_window(series, warmup_s=3) == (20, 3)


def test_steady_window_of_a_too_short_run_is_empty() -> None:
    assert bench.steady_window({}, warmup_s=3) == (0, 0)
    assert bench.steady_window({1: 9, 2: 9}, warmup_s=3) == (0, 0)


def test_percentile_of_a_histogram() -> None:
    histogram = {10: 50, 20: 49, 900: 1}
    assert bench.percentile_ms(histogram, 0.50) == 10.0
    assert bench.percentile_ms(histogram, 0.99) == 20.0
    assert bench.percentile_ms(histogram, 1.0) == 900.0


def test_percentile_of_no_sample_is_none_not_zero() -> None:
    assert bench.percentile_ms({}, 0.99) is None


def _figures(tool: str, processes: str, requests: int) -> object:
    return bench.Figures(
        tool, processes, requests, 10.0, 0, 1.0, 2.0, 1.0, 50.0
    )


def test_ratios_compare_each_locust_run_with_the_mean_of_wrk_runs() -> None:
    lines = bench.ratio_lines(
        [
            _figures("wrk", "1 (2 threads)", 4000),
            _figures("locust", "1", 3000),
            _figures("locust", "2 workers + master", 4000),
            _figures("wrk", "1 (2 threads)", 6000),
        ]
    )
    assert lines == [
        "ratio locust (1) / wrk: 0.60 (target >= 0.8: NOT met)",
        "ratio locust (2 workers + master) / wrk: 0.80 (target >= 0.8: met)",
    ]


def test_ratio_without_a_wrk_rate_is_unobserved() -> None:
    lines = bench.ratio_lines(
        [_figures("wrk", "1", 0), _figures("locust", "1", 3000)]
    )
    assert lines == ["ratio: unobserved (wrk measured nothing)"]


def test_table_has_a_row_per_run() -> None:
    text = bench.table([_figures("wrk", "1 (2 threads)", 4000)])
    header, row = text.splitlines()
    assert header.split()[:3] == ["tool", "processes", "req/s"]
    assert row.split()[0] == "wrk" and "400" in row.split()


def test_locust_kubeconfig_holds_the_token_and_the_ca() -> None:
    text = bench.locust_kubeconfig("https://10.0.0.1:6443", b"PEM", "tok")
    data = yaml.safe_load(text)
    assert data["clusters"][0]["cluster"] == {
        "server": "https://10.0.0.1:6443",
        "certificate-authority-data": "UEVN",
    }
    assert data["users"][0]["user"] == {"token": "tok"}
    assert data["current-context"] == data["contexts"][0]["name"]
