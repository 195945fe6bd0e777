"""What each request of a load run came to, counted in the Locust process.

Locust's stats lump every outcome of a request name together, and its
percentiles include failed requests, so a run of fast 401s shows a small
p99. The tally keeps the response times of successful requests apart and
counts failures by HTTP status, with the API's own message for the first
failure of each status, so the judge can tell a refused run from a slow
or failing API. Each outcome is also kept per wall-clock second
(``series``), so plots, ramp steps and outage windows are judged from the
same data as the verdicts; tallies of several Locust workers ``merge``.
Pure data: no locust, no kubernetes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NO_RESPONSE", "FirstFailure", "Second", "Tally", "api_message"]

NO_RESPONSE = 0
"""The status recorded for a request that got no HTTP response at all."""
MESSAGE_CHARS = 300
"""Longest API message kept: enough for a Status message, never a page."""


@dataclass(frozen=True)
class FirstFailure:
    """The first failed request of one HTTP status."""

    name: str
    message: str


@dataclass
class Second:
    """One request name during one wall-clock second."""

    ok: int = 0
    failed: dict[int, int] = field(default_factory=dict)
    """HTTP status (0: no response) -> count."""
    times: dict[int, int] = field(default_factory=dict)
    """Successes: rounded ms -> count (the rounding of ``Tally``)."""
    events: int = 0
    """WATCH events received in this second."""

    def add(self, other: Second) -> None:
        self.ok += other.ok
        self.events += other.events
        _add_counts(self.failed, other.failed)
        _add_counts(self.times, other.times)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "failed": self.failed,
            "times": self.times,
            "events": self.events,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> Second:
        return cls(
            ok=int(raw["ok"]),  # type: ignore[call-overload]
            failed=_int_counts(raw["failed"]),
            times=_int_counts(raw["times"]),
            events=int(raw.get("events", 0)),  # type: ignore[call-overload]
        )


@dataclass
class Tally:
    """Successes' response times and failures by status, per request name,
    in total and per wall-clock second."""

    timings: dict[str, dict[int, int]] = field(default_factory=dict)
    """Request name -> {response time in rounded ms: count}, successes."""
    failures: dict[str, dict[int, int]] = field(default_factory=dict)
    """Request name -> {HTTP status (0: no response): count}."""
    first: dict[int, FirstFailure] = field(default_factory=dict)
    """HTTP status -> its first failed request and the API's message."""
    series: dict[str, dict[int, Second]] = field(default_factory=dict)
    """Request name -> int(epoch second of the request's start) -> Second."""
    events: dict[str, int] = field(default_factory=dict)
    """Request name (a WATCH) -> events its streams delivered."""

    def success(
        self, name: str, response_ms: float, at: float | None = None
    ) -> None:
        """Count a successful request and its response time; ``at`` is
        when it was sent (epoch seconds, default now)."""
        bucket = self.timings.setdefault(name, {})
        ms = _rounded_ms(response_ms)
        bucket[ms] = bucket.get(ms, 0) + 1
        second = self._second(name, at)
        second.ok += 1
        second.times[ms] = second.times.get(ms, 0) + 1

    def failure(
        self,
        name: str,
        status: int,
        message: Callable[[], str],
        at: float | None = None,
    ) -> None:
        """Count a failed request; ``message`` is read for the first
        failure of each status only (a body is parsed once, not per
        request)."""
        counts = self.failures.setdefault(name, {})
        counts[status] = counts.get(status, 0) + 1
        second = self._second(name, at)
        second.failed[status] = second.failed.get(status, 0) + 1
        if status not in self.first:
            self.first[status] = FirstFailure(name, message()[:MESSAGE_CHARS])

    def event(self, name: str, n: int = 1, at: float | None = None) -> None:
        """Count ``n`` WATCH events received on a stream of ``name``."""
        self.events[name] = self.events.get(name, 0) + n
        self._second(name, at).events += n

    def _second(self, name: str, at: float | None) -> Second:
        when = int(time.time() if at is None else at)
        return self.series.setdefault(name, {}).setdefault(when, Second())

    @property
    def succeeded(self) -> int:
        return sum(sum(b.values()) for b in self.timings.values())

    @property
    def failed(self) -> int:
        return sum(self.by_status().values())

    @property
    def requests(self) -> int:
        return self.succeeded + self.failed

    def by_status(self) -> dict[int, int]:
        """Failed requests per HTTP status, over every request name."""
        totals: dict[int, int] = {}
        for counts in self.failures.values():
            for status, n in counts.items():
                totals[status] = totals.get(status, 0) + n
        return dict(sorted(totals.items()))

    def names(self) -> list[str]:
        """Every request name that was sent, sorted."""
        return sorted(set(self.timings) | set(self.failures))

    def span(self) -> tuple[int, int] | None:
        """First and last second (epoch) holding an outcome, or None."""
        seconds = [s for per in self.series.values() for s in per]
        return (min(seconds), max(seconds)) if seconds else None

    def merge(self, other: Tally) -> None:
        """Add ``other`` (a worker's tally, or its latest delta) to this
        one; the first failure of a status already here is kept."""
        for name, hist in other.timings.items():
            _add_counts(self.timings.setdefault(name, {}), hist)
        for name, counts in other.failures.items():
            _add_counts(self.failures.setdefault(name, {}), counts)
        for status, first in other.first.items():
            self.first.setdefault(status, first)
        for name, per in other.series.items():
            mine = self.series.setdefault(name, {})
            for when, second in per.items():
                mine.setdefault(when, Second()).add(second)
        _add_counts(self.events, other.events)

    def window(self, start: float, end: float) -> Tally:
        """Only the outcomes sent in the seconds ``[start, end)``, rebuilt
        from the series. A second belongs to the window holding its
        middle, so back-to-back windows (ramp steps) share none. First
        failures are kept for the statuses seen in
        the window (the message may be of an earlier request)."""
        out = Tally()
        for name, per in self.series.items():
            for when, second in per.items():
                if start <= when + 0.5 < end:
                    out.series.setdefault(name, {})[when] = _copy(second)
                    if second.times:
                        _add_counts(
                            out.timings.setdefault(name, {}), second.times
                        )
                    if second.failed:
                        _add_counts(
                            out.failures.setdefault(name, {}), second.failed
                        )
                    if second.events:
                        _add_counts(out.events, {name: second.events})
        for status in out.by_status():
            if status in self.first:
                out.first[status] = self.first[status]
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "timings": self.timings,
                "failures": self.failures,
                "first": {
                    str(status): {"name": f.name, "message": f.message}
                    for status, f in self.first.items()
                },
                "series": {
                    name: {str(w): s.to_dict() for w, s in per.items()}
                    for name, per in self.series.items()
                },
                "events": self.events,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Tally:
        """Inverse of ``to_json`` (a tally without series reads as one).

        Raises:
            ValueError: not a tally (bad JSON, missing keys, bad numbers).
        """
        try:
            data = json.loads(text)
            return cls(
                timings=_int_keyed(data["timings"]),
                failures=_int_keyed(data["failures"]),
                first={
                    int(status): FirstFailure(str(f["name"]), str(f["message"]))
                    for status, f in data["first"].items()
                },
                series={
                    str(name): {
                        int(w): Second.from_dict(s) for w, s in per.items()
                    }
                    for name, per in data.get("series", {}).items()
                },
                events={
                    str(k): int(v) for k, v in data.get("events", {}).items()
                },
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a load tally: {exc!r}") from exc


def api_message(body: str) -> str:
    """The ``message`` of a Kubernetes Status body, else its first line."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    lines = body.strip().splitlines()
    return lines[0][:MESSAGE_CHARS] if lines else "empty response body"


def _rounded_ms(ms: float) -> int:
    """Locust's histogram rounding: 1 ms below 100 ms, 10 ms below 1 s,
    100 ms above (p99 keeps two significant digits)."""
    digits = 0 if ms < 100 else -1 if ms < 1000 else -2
    return int(round(ms, digits))


def _int_keyed(raw: dict[str, dict[str, int]]) -> dict[str, dict[int, int]]:
    return {
        name: {int(key): int(n) for key, n in counts.items()}
        for name, counts in raw.items()
    }


def _int_counts(raw: object) -> dict[int, int]:
    if not isinstance(raw, dict):
        raise TypeError(f"counts must be an object, not {type(raw).__name__}")
    return {int(key): int(n) for key, n in raw.items()}


def _add_counts(into: dict[Any, int], more: Mapping[Any, int]) -> None:
    for key, n in more.items():
        into[key] = into.get(key, 0) + n


def _copy(second: Second) -> Second:
    out = Second()
    out.add(second)
    return out
