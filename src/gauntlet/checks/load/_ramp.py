"""LOAD-02's ramp: the tenant's load raised step by step until shed.

The load runs as the tenant (``_tenant``) through the engine's ramp
mode. While it runs, every ``POLL_S`` the API servers' own count of
what they rejected is read (the Locust tally is
only complete at the end); once the level has shed during one step and
a whole further step has run, and the system's heartbeats were watched
for at least ``MIN_RAMP_S``, the ramp stops early: the knee is known and
more load proves nothing more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gauntlet import progress
from gauntlet.checks.arch._apiservers import ApiServer
from gauntlet.checks.context import CheckContext
from gauntlet.checks.load import _apf, _knee
from gauntlet.checks.load._tenant import Tenant
from gauntlet.load.credentials import Source
from gauntlet.load.plan import LoadPlan, Ramp
from gauntlet.load.runner import LoadResult, start_load

__all__ = ["PLAN", "RampOutcome", "ramp_until_shed"]

SCENARIO = "list-storm"
"""LISTs hold a seat longest: the level's few seats fill at a rate one
2-core runner reaches."""
USERS = 10
"""Raised by the engine as the rate rises (10 req/s a user at most);
few at the start, since a user sends its first request as it spawns."""
RAMP = Ramp(start_rate=20, step_rate=20, step_s=5, max_rate=300)
PLAN = LoadPlan(scenario=SCENARIO, users=USERS, ramp=RAMP)
MIN_RAMP_S = 45.0
"""At least one node Lease duration (40 s) of watching, so a kubelet
that cannot renew shows a gap over its bound before the ramp stops."""
POLL_S = 2.0
LATE_S = 60.0
"""Start-up and shutdown allowed on top of the ramp before waiting for
the run without polling."""


@dataclass(frozen=True)
class RampOutcome:
    """The ramp's result, its steps judged, and its window (epoch)."""

    result: LoadResult
    verdicts: list[_knee.StepVerdict]
    start: float
    end: float
    stopped_early: bool

    @property
    def highest(self) -> float | None:
        """The highest rate a step achieved (None: no step ran)."""
        rates = [v.achieved_rate for v in self.verdicts]
        return max(rates) if rates else None


def ramp_until_shed(
    ctx: CheckContext, who: Tenant, servers: list[ApiServer], level: str
) -> RampOutcome:
    """Ramp as ``who`` until ``level`` has shed for a step (or the
    ramp's end).

    Raises:
        CredentialsRefused: the API refused the tenant (401/403).
        UsageError: Locust did not run.
    """
    base = _apf.rejected_now(ctx.cluster, servers)
    first_shed: int | None = None
    stopped = False
    with start_load(Source(who.kubeconfig, None), ctx.namespace, PLAN) as run:
        with progress.step(f"LOAD-02 ramp as {who.user}: {PLAN.describe()}"):
            deadline = time.monotonic() + RAMP.seconds + LATE_S
            while True:
                if time.monotonic() > deadline:
                    result = run.result()  # its own bound, then UsageError
                    break
                try:
                    result = run.result(timeout=POLL_S)
                    break
                except TimeoutError:
                    pass
                if stopped:
                    continue
                now = time.time()
                step = _knee.step_at(run.started_at, RAMP.step_s, now)
                if first_shed is None:
                    rejected = _apf.rejected_now(ctx.cluster, servers)
                    if rejected > base:
                        first_shed = step
                        progress.say(
                            f"LOAD-02: the API servers shed in step {step + 1}"
                        )
                long_enough = now - run.started_at >= MIN_RAMP_S
                if long_enough and _knee.should_stop(first_shed, step):
                    run.stop()
                    stopped = True
    steps = list(result.steps)
    return RampOutcome(
        result=result,
        verdicts=_knee.judge_steps(steps, result.tally),
        start=result.started_at,
        end=result.ended_at,
        stopped_early=stopped,
    )
