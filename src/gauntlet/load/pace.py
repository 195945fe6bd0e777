"""A Locust user's pace at a fixed rate, counted in requests.

Locust is a closed model: a user sends its next request only after the
previous one answered. ``constant_throughput`` paces tasks; a task here
may send several requests (the pages of a paged LIST), so the pace is
counted in requests sent. A user that falls behind (responses slower than
its pace) catches up by at most ``MAX_BACKLOG_S`` worth of requests, sent
back to back; anything older is dropped, never queued, so a slow API
shows as an achieved rate below the target rather than as a burst.
Pure: no locust.
"""

from __future__ import annotations

import math

__all__ = ["MAX_BACKLOG_S", "MAX_USER_RATE", "Pacer", "users_for"]

MAX_BACKLOG_S = 1.0
MAX_USER_RATE = 10.0
"""Highest pace asked of one user (a request every 100 ms): above it the
run gets more users, since one user cannot go faster than the API
answers."""


class Pacer:
    """When a user sends its next request, for a pace that may change."""

    def __init__(self) -> None:
        self.due: float | None = None
        """When the next request is due (monotonic seconds)."""

    def wait(self, sent: int, now: float, rate: float, phase: float) -> float:
        """Seconds to wait after a task that sent ``sent`` requests, at
        ``rate`` req/s for this user. ``phase`` (0..1) spreads the users'
        first requests over one interval instead of all at once."""
        if rate <= 0 or not math.isfinite(rate):
            raise ValueError(f"pace {rate}: not a rate above 0")
        if self.due is None:
            self.due = now + phase / rate
        else:
            self.due += sent / rate
        self.due = max(self.due, now - MAX_BACKLOG_S)
        return max(self.due - now, 0.0)


def users_for(rate: float | None, users: int) -> int:
    """Users to run for a total ``rate``: the plan's, or more when each
    would have to go faster than ``MAX_USER_RATE``."""
    if rate is None:
        return users
    return max(users, math.ceil(rate / MAX_USER_RATE - 1e-9))
