"""The pure half of benchmarks/load_vs_reference.py: wrk's summary line,
a Locust run's steady window, percentiles, the table and the ratios.

No cluster, no tools: unit-tested in
``tests/unit/test_bench_load_vs_reference.py``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

TARGET_RATIO = 0.8
"""Issue 14: distributed Locust reaches 0.8 of wrk's req/s."""
WARMUP_S = 3
"""Seconds of a Locust run left out of its rate: users still spawning."""
WRK_LINE = re.compile(r"^KGWRK (.*)$", re.MULTILINE)
WRK_FIELDS = (
    "requests",
    "duration_us",
    "connect",
    "read",
    "write",
    "status",
    "timeout",
    "p50_us",
    "p99_us",
)


@dataclass(frozen=True)
class Figures:
    """What one tool achieved in one run."""

    tool: str
    processes: str
    requests: int
    seconds: float
    """The span ``requests`` were counted over."""
    failures: int
    p50_ms: float | None
    p99_ms: float | None
    cpu_s: float
    """User plus system CPU of the tool's processes."""
    busy_pct: float
    """The machine's CPU busy during the run, in percent of all cores:
    the lab's API servers and etcd, the tool, and anything else."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def parse_wrk(stdout: str) -> dict[str, int]:
    """The ``KGWRK`` line the Lua ``done()`` prints, as numbers.

    Raises:
        ValueError: no such line, or a field is missing or not a number.
    """
    match = WRK_LINE.search(stdout)
    if match is None:
        raise ValueError("wrk printed no KGWRK summary line")
    pairs = dict(
        part.split("=", 1) for part in match.group(1).split() if "=" in part
    )
    missing = [k for k in WRK_FIELDS if k not in pairs]
    if missing:
        raise ValueError(f"wrk summary lacks {', '.join(missing)}")
    try:
        return {k: int(pairs[k]) for k in WRK_FIELDS}
    except ValueError as exc:
        raise ValueError(f"wrk summary has a non-number: {exc}") from exc


def wrk_figures(
    summary: Mapping[str, int],
    threads: int,
    connections: int,
    cpu_s: float,
    busy_pct: float,
) -> Figures:
    """Figures from a parsed wrk summary (its latencies are in µs)."""
    failures = sum(
        summary[k] for k in ("connect", "read", "write", "status", "timeout")
    )
    done = summary["requests"]
    return Figures(
        tool="wrk",
        processes=f"1 ({threads} threads, {connections} connections)",
        requests=done,
        seconds=summary["duration_us"] / 1e6,
        failures=failures,
        p50_ms=summary["p50_us"] / 1000 if done else None,
        p99_ms=summary["p99_us"] / 1000 if done else None,
        cpu_s=cpu_s,
        busy_pct=busy_pct,
    )


def steady_window(
    per_second: Mapping[int, int], warmup_s: int = WARMUP_S
) -> tuple[int, int]:
    """Requests and whole seconds of a per-second series without the
    first ``warmup_s`` seconds (users spawning) and the last second
    (partial). ``(0, 0)`` when nothing is left."""
    if not per_second:
        return 0, 0
    first, last = min(per_second), max(per_second)
    seconds = range(first + warmup_s, last)
    return sum(per_second.get(s, 0) for s in seconds), len(seconds)


def percentile_ms(histogram: Mapping[int, int], q: float) -> float | None:
    """Percentile of a {rounded ms: count} histogram; None when empty
    (no sample is never a latency of 0)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    seen = 0
    for ms, n in sorted(histogram.items()):
        seen += n
        if seen >= q * total:
            return float(ms)
    return float(max(histogram))


def ratio_lines(figures: list[Figures]) -> list[str]:
    """Each Locust configuration's mean req/s over the mean of the wrk
    runs (which bracket the Locust runs, so that drift of the lab does
    not favour either tool), against the target."""
    rates: dict[tuple[str, str], list[float]] = {}
    for f in figures:
        rates.setdefault((f.tool, f.processes), []).append(f.rate)
    wrk = [r for (tool, _), got in rates.items() if tool == "wrk" for r in got]
    reference = sum(wrk) / len(wrk) if wrk else 0.0
    if reference == 0:
        return ["ratio: unobserved (wrk measured nothing)"]
    lines = []
    for (tool, processes), got in rates.items():
        if tool == "wrk":
            continue
        ratio = sum(got) / len(got) / reference
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        lines.append(
            f"ratio {tool} ({processes}) / wrk: {ratio:.2f} "
            f"(target >= {TARGET_RATIO}: {verdict})"
        )
    return lines


def table(figures: list[Figures]) -> str:
    """A fixed-width table, one row per run."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    rows = [
        (
            "tool",
            "processes",
            "req/s",
            "failures",
            "p50/p99 ms",
            "tool CPU s",
            "machine busy",
        )
    ]
    rows += [
        (
            f.tool,
            f.processes,
            f"{f.rate:.0f}",
            str(f.failures),
            f"{ms(f.p50_ms)}/{ms(f.p99_ms)}",
            f"{f.cpu_s:.1f}",
            f"{f.busy_pct:.0f} %",
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    )


def locust_kubeconfig(server: str, ca_pem: bytes, token: str) -> str:
    """A kubeconfig holding only the ServiceAccount token and the CA."""
    name = "kg-bench"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": server,
                        "certificate-authority-data": base64.b64encode(
                            ca_pem
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [
                {"name": name, "context": {"cluster": name, "user": name}}
            ],
            "current-context": name,
        }
    )
