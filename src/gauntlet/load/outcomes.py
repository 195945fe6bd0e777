"""What each request of a load run came to, counted in the Locust process.

Locust's stats lump every outcome of a request name together, and its
percentiles include failed requests, so a run of fast 401s shows a small
p99. The tally keeps the response times of successful requests apart and
counts failures by HTTP status, with the API's own message for the first
failure of each status, so the judge can tell a refused run from a slow
or failing API. Pure data: no locust, no kubernetes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["NO_RESPONSE", "FirstFailure", "Tally", "api_message"]

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
class Tally:
    """Successes' response times and failures by status, per request name."""

    timings: dict[str, dict[int, int]] = field(default_factory=dict)
    """Request name -> {response time in rounded ms: count}, successes."""
    failures: dict[str, dict[int, int]] = field(default_factory=dict)
    """Request name -> {HTTP status (0: no response): count}."""
    first: dict[int, FirstFailure] = field(default_factory=dict)
    """HTTP status -> its first failed request and the API's message."""

    def success(self, name: str, response_ms: float) -> None:
        """Count a successful request and its response time."""
        bucket = self.timings.setdefault(name, {})
        ms = _rounded_ms(response_ms)
        bucket[ms] = bucket.get(ms, 0) + 1

    def failure(
        self, name: str, status: int, message: Callable[[], str]
    ) -> None:
        """Count a failed request; ``message`` is read for the first
        failure of each status only (a body is parsed once, not per
        request)."""
        counts = self.failures.setdefault(name, {})
        counts[status] = counts.get(status, 0) + 1
        if status not in self.first:
            self.first[status] = FirstFailure(name, message()[:MESSAGE_CHARS])

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

    def to_json(self) -> str:
        return json.dumps(
            {
                "timings": self.timings,
                "failures": self.failures,
                "first": {
                    str(status): {"name": f.name, "message": f.message}
                    for status, f in self.first.items()
                },
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Tally:
        """Inverse of ``to_json``.

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
