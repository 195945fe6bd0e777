"""The run's shape: how many users, at what pace, for how long.

One ``LoadTestShape`` for every mode, so a run always ends the same way
(``node.finish``: the users stop and clean up, workers' last reports are
in) and its start, stop and ramp steps are recorded where the users are
driven, on the master:

- free: ``plan.users`` users, unpaced, for ``plan.seconds``;
- fixed: ``plan.rate`` req/s of all users together for ``plan.seconds``;
- ramp: the rate of each step of ``plan.ramp`` for ``step_s`` seconds.

The per-user pace is the rate over the users; above ``MAX_USER_RATE``
per user the shape runs more users (a user cannot go faster than the API
answers), so a ramp raises the pace first, then the users. Ticks come
about once a second: a step starts within a second of its due time and
its recorded start and end are the real ones.
"""

from __future__ import annotations

import time

from locust import LoadTestShape

from gauntlet.load.node import NODE, finish, set_pace, stop_requested
from gauntlet.load.pace import users_for

__all__ = ["RunShape"]


class RunShape(LoadTestShape):
    """The plan's users and pace, tick by tick (master or single
    process; workers follow the master)."""

    def tick(self) -> tuple[int, float] | None:
        plan = NODE.plan
        if plan is None:  # a worker: the master shapes the run
            return None
        now = time.time()
        record = NODE.record
        record.setdefault("started", now)
        run_time = float(self.get_run_time())  # type: ignore[no-untyped-call]
        if run_time >= plan.duration_s or stop_requested():
            _close_step(record, now)
            finish()
            return None
        rate = plan.rate_at(run_time)
        users = users_for(rate, plan.users)
        set_pace(rate / users if rate else None)
        record["users"] = max(users, int(record.get("users", 0)))
        if plan.ramp is not None:
            steps = record.setdefault("steps", [])
            if not steps or steps[-1]["rate"] != rate:
                _close_step(record, now)
                steps.append({"rate": rate, "start": now, "end": None})
        return users, float(users)


def _close_step(record: dict[str, object], now: float) -> None:
    steps = record.get("steps")
    if isinstance(steps, list) and steps and steps[-1]["end"] is None:
        steps[-1]["end"] = now
