"""LOAD-03's judge: what the load's own request log saw around a fault.

Pure: reads ``Tally.series`` (request name -> epoch second the request
was sent -> outcomes) and fault windows in epoch seconds.

A fault's window runs from the start of the second the fault was sent
in (a request sent just before and cut by the fault is the fault's) to
when the cluster was seen recovered plus a margin, and lasts at least
a minimum (a fast recovery must not shrink the budget's denominator to
the few requests the fault's stall let through). A second belongs to
the window holding its middle (``Tally.window``'s rule), so windows
that follow each other share none. In it:

- the error budget: failed requests of any status against all
  requests sent in the window;
- the outage: the longest run of whole seconds in which no request
  came back successfully. A success counts in the second it completed
  (its start second plus its response time), so a request that hangs
  through an election and then succeeds does not hide the stall.
  Only requests that need etcd count (``needs_etcd``): the watch cache
  answers ``resourceVersion=0`` LISTs and WATCHes through an election,
  which would hide the outage every write and consistent read sees.

Outside every window the run is held to LOAD-01's budgets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gauntlet.load.outcomes import NO_RESPONSE, Second, Tally
from gauntlet.load.slo import MAX_FAILED_RATIO

__all__ = [
    "CACHE_VARIANT",
    "MAX_FAILED_IN_FAULT",
    "FaultLoad",
    "FaultWindow",
    "Outside",
    "fault_findings",
    "fault_load",
    "longest_outage",
    "needs_etcd",
    "outside_findings",
    "outside_windows",
    "successes_completed",
]

MAX_FAILED_IN_FAULT = 0.05
"""Failed requests allowed inside a fault's window, as a share of the
requests sent in it."""
CACHE_VARIANT = "rv=0"
"""The request variant the API server's watch cache answers (as it
answers every WATCH) without asking etcd."""


@dataclass(frozen=True)
class FaultWindow:
    """When one fault held, as the runner saw it (epoch seconds)."""

    name: str
    """The part judged over this window."""
    start: float
    """The fault was sent."""
    recovered: float
    """The cluster was seen healthy again."""
    margin_s: float
    """Seconds after ``recovered`` still counted to the fault."""
    max_outage_s: float
    """Longest tolerated run of whole seconds without a success."""
    min_s: float = 0.0
    """Shortest window from ``start``: a fast recovery must not make
    each failure weigh more in the error budget."""

    @property
    def first(self) -> int:
        """The window's first second: the one the fault was sent in."""
        return math.floor(self.start)

    @property
    def end(self) -> float:
        return max(self.recovered + self.margin_s, self.start + self.min_s)

    def holds(self, second: int) -> bool:
        """``second`` (epoch) belongs to the window (its middle inside)."""
        return self.first <= second + 0.5 < self.end


@dataclass(frozen=True)
class FaultLoad:
    """What the load saw during one fault's window."""

    window: FaultWindow
    requests: int
    failed: int
    by_status: dict[int, int]
    """Failed requests per HTTP status (0: no response)."""
    outage_s: int
    """Longest run of whole seconds without a completed success."""
    outage_from: int | None
    """Epoch second the longest run began (None: no outage)."""
    rate_before: float | None
    """Requests sent per second in the seconds before the fault (None:
    none of those seconds was in the run)."""
    rate_during: float
    """Requests sent per second inside the window."""

    @property
    def failed_ratio(self) -> float:
        return self.failed / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Outside:
    """The run outside every fault window."""

    requests: int
    failed: int
    server_errors: int
    """5xx responses."""
    by_status: dict[int, int]


def needs_etcd(name: str) -> bool:
    """A request the API server must ask etcd for (not cache-served)."""
    words = name.split()
    return bool(words) and words[0] != "WATCH" and CACHE_VARIANT not in words


def successes_completed(
    series: Mapping[str, Mapping[int, Second]], names: Iterable[str]
) -> dict[int, int]:
    """Successful requests of ``names`` per epoch second they came back:
    the second sent, plus half a second (the send time within it is not
    kept), plus the response time."""
    done: dict[int, int] = {}
    for name in names:
        for sent, second in series.get(name, {}).items():
            for ms, n in second.times.items():
                at = int(sent + 0.5 + ms / 1000.0)
                done[at] = done.get(at, 0) + n
    return done


def longest_outage(
    done: Mapping[int, int], seconds: Iterable[int]
) -> tuple[int, int | None]:
    """Longest run of consecutive ``seconds`` with no entry in ``done``:
    (its length, its first second)."""
    best, best_from = 0, None
    run, run_from = 0, None
    previous: int | None = None
    for second in sorted(seconds):
        if done.get(second, 0) or (
            previous is not None and second != previous + 1
        ):
            run, run_from = 0, None
        if not done.get(second, 0):
            if run == 0:
                run_from = second
            run += 1
            if run > best:
                best, best_from = run, run_from
        previous = second
    return best, best_from


def fault_load(
    tally: Tally,
    window: FaultWindow,
    before_s: float,
    run: tuple[float, float],
) -> FaultLoad:
    """Judge-ready figures of ``tally`` over ``window``; ``before_s``
    seconds before it give the rate before; ``run`` is the load's own
    (start, end), outside which no second is an outage.

    Raises:
        ValueError: the window is empty or outside the run.
    """
    first = max(window.first, math.floor(run[0]))
    last = min(window.end, run[1])
    seconds = [s for s in range(first, int(last) + 1) if window.holds(s)]
    seconds = [s for s in seconds if run[0] <= s + 0.5 < run[1]]
    if not seconds:
        raise ValueError(
            f"{window.name}: window {window.start:.1f}..{window.end:.1f} "
            f"outside the load run {run[0]:.1f}..{run[1]:.1f}"
        )
    inside = tally.window(window.first, window.end)
    etcd_names = [n for n in tally.series if needs_etcd(n)]
    done = successes_completed(tally.series, etcd_names)
    outage_s, outage_from = longest_outage(done, seconds)
    before_start = max(window.first - before_s, run[0])
    before = tally.window(before_start, window.first)
    before_seconds = window.first - before_start
    return FaultLoad(
        window=window,
        requests=inside.requests,
        failed=inside.failed,
        by_status=inside.by_status(),
        outage_s=outage_s,
        outage_from=outage_from,
        rate_before=(
            before.requests / before_seconds if before_seconds >= 1 else None
        ),
        rate_during=inside.requests / len(seconds),
    )


def fault_findings(load: FaultLoad, what: str) -> list[str]:
    """The budgets ``load`` overspent, each naming ``what`` (the fault)."""
    found = []
    window = load.window
    if load.requests and load.failed_ratio > MAX_FAILED_IN_FAULT:
        found.append(
            f"{what}: error budget overspent, {load.failed} of "
            f"{load.requests} requests failed ({load.failed_ratio:.1%} > "
            f"{MAX_FAILED_IN_FAULT:.0%}) [{_statuses(load.by_status)}]"
        )
    if load.outage_s > window.max_outage_s:
        found.append(
            f"{what}: outage window {load.outage_s}s without a successful "
            f"request (bound {window.max_outage_s:g}s)"
        )
    return found


def outside_windows(tally: Tally, windows: Iterable[FaultWindow]) -> Outside:
    """Every request of ``tally`` sent outside all ``windows``."""
    spans = list(windows)
    requests = failed = server = 0
    by_status: dict[int, int] = {}
    for per in tally.series.values():
        for sent, second in per.items():
            if any(w.holds(sent) for w in spans):
                continue
            n_failed = sum(second.failed.values())
            requests += second.ok + n_failed
            failed += n_failed
            for status, n in second.failed.items():
                by_status[status] = by_status.get(status, 0) + n
                if status >= 500:
                    server += n
    return Outside(requests, failed, server, dict(sorted(by_status.items())))


def outside_findings(outside: Outside) -> list[str]:
    """LOAD-01's failure budget and no 5xx, outside the fault windows."""
    found: list[str] = []
    if outside.requests == 0:
        return found
    ratio = outside.failed / outside.requests
    if ratio > MAX_FAILED_RATIO:
        found.append(
            f"outside the fault windows {outside.failed} of "
            f"{outside.requests} requests failed ({ratio:.2%} > "
            f"{MAX_FAILED_RATIO:.0%}) [{_statuses(outside.by_status)}]"
        )
    if outside.server_errors:
        found.append(
            f"outside the fault windows {outside.server_errors} 5xx "
            f"responses [{_statuses(outside.by_status)}]"
        )
    return found


def _statuses(by_status: Mapping[int, int]) -> str:
    return ", ".join(
        f"{'no response' if s == NO_RESPONSE else s} x{n}"
        for s, n in sorted(by_status.items())
    )
