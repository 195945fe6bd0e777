"""What one Locust process keeps, and what its master and workers say.

Every process (single, master or worker) counts its users' requests in
a ``Tally``. A worker sends the delta since its last report with
Locust's own stats report (``report_to_master``) and starts afresh; the
master merges each into its own (``worker_report``), so remote workers
(an in-cluster Job) report exactly as local ones. When the master stops
a run it waits for each worker's ``kg-done``, sent after that worker's
users have stopped and cleaned up and its last delta went out: the
master writes its tally only when every worker's requests are in it.

A worker quits once its last report is out: one run, one worker
process. The master tells workers the per-user pace (``kg-pace``, every second,
so a ramp step or a late worker follows); the unpaced think time comes
with the environment, set before any user starts. A worker refused with
401 or 403 says so (``kg-refused``) and the master ends the run.

Import only in a Locust process (locust patches the process with gevent).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from gauntlet.load.outcomes import NO_RESPONSE, Tally, api_message
from gauntlet.load.plan import (
    THINK_S,
    LoadPlan,
    plan_from_json,
    think_from_text,
)
from gauntlet.load.runner import (
    ENV_PLAN,
    ENV_RUN,
    ENV_STOP,
    ENV_TALLY,
    ENV_THINK,
)
from gauntlet.load.slo import REFUSALS

__all__ = ["NODE", "Node", "finish", "set_pace"]

DONE = "kg-done"
PACE = "kg-pace"
REFUSED = "kg-refused"
TALLY_KEY = "kg_tally"
QUIT_AFTER_S = 0.5
"""A worker's grace for its last messages to leave before it quits."""
DONE_WAIT_S = 15.0
"""After the users stopped, how long the master waits for workers' last
reports (a worker that died is named in the run record, not waited for)."""


@dataclass
class Node:
    """This process's share of the run."""

    tally: Tally = field(default_factory=Tally)
    pace: float | None = None
    """Per-user req/s; None: unpaced, waiting ``think`` between tasks."""
    think: tuple[float, float] = THINK_S
    """Unpaced think time, seconds (``LoadPlan.think_s``, from the
    environment on every process); ``(0, 0)``: no wait."""
    refused: bool = False
    plan: LoadPlan | None = None
    """The plan (master or single process; workers get the pace only)."""
    environment: Environment | None = None
    done: set[str] = field(default_factory=set)
    """Workers whose last report is in."""
    record: dict[str, Any] = field(default_factory=dict)
    """The run record written next to the tally: started, stopping,
    users, steps, workers."""


NODE = Node()
if os.environ.get(ENV_PLAN):
    NODE.plan = plan_from_json(os.environ[ENV_PLAN])
if os.environ.get(ENV_THINK):
    NODE.think = think_from_text(os.environ[ENV_THINK])


@events.init.add_listener  # type: ignore[untyped-decorator]
def _init(environment: Environment, **_kw: Any) -> None:
    NODE.environment = environment
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(DONE, _on_done)
        runner.register_message(REFUSED, _on_refused)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(PACE, _on_pace)


@events.request.add_listener  # type: ignore[untyped-decorator]
def _count(
    name: str,
    response_time: float,
    response: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_kw: Any,
) -> None:
    if exception is None:
        NODE.tally.success(name, response_time, start_time)
        return
    status = int(getattr(response, "status_code", None) or NO_RESPONSE)
    NODE.tally.failure(
        name, status, lambda: _message(response, exception), start_time
    )
    if status in REFUSALS and not NODE.refused:
        NODE.refused = True
        runner = NODE.environment.runner if NODE.environment else None
        if isinstance(runner, WorkerRunner):
            runner.send_message(REFUSED, {"status": status})


def _message(response: Any, exception: BaseException) -> str:
    body = getattr(response, "text", None)
    if getattr(response, "status_code", None) and body:
        return api_message(str(body))
    return str(exception) or type(exception).__name__


@events.report_to_master.add_listener  # type: ignore[untyped-decorator]
def _send_delta(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data[TALLY_KEY] = NODE.tally.to_json()
    NODE.tally = Tally()


@events.worker_report.add_listener  # type: ignore[untyped-decorator]
def _merge_delta(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    if TALLY_KEY in data:
        NODE.tally.merge(Tally.from_json(data[TALLY_KEY]))


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _last_report(environment: Environment, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner._send_stats()  # the delta of the users' cleanup, then:
        runner.send_message(DONE, {})
        # A run is one test: the worker ends with it (a Job completes)
        # instead of idling until its master's heartbeat times out.
        gevent.spawn_later(QUIT_AFTER_S, runner.quit)


def _on_done(environment: Environment, msg: Any, **_kw: Any) -> None:
    NODE.done.add(str(msg.node_id))


def _on_refused(environment: Environment, msg: Any, **_kw: Any) -> None:
    NODE.refused = True


def _on_pace(environment: Environment, msg: Any, **_kw: Any) -> None:
    pace = msg.data.get("pace") if isinstance(msg.data, dict) else None
    NODE.pace = float(pace) if pace else None


def set_pace(pace: float | None) -> None:
    """Set the per-user pace here and on every worker."""
    NODE.pace = pace
    runner = NODE.environment.runner if NODE.environment else None
    if isinstance(runner, MasterRunner):
        runner.send_message(PACE, {"pace": pace})


def stop_requested() -> bool:
    """A refusal, or the runner asked for an early end."""
    stop = os.environ.get(ENV_STOP)
    return NODE.refused or bool(stop and Path(stop).exists())


def finish() -> None:
    """End the users (master: on every worker) and, on a master, wait for
    each worker's last report. Called by the shape before it ends."""
    NODE.record["stopping"] = time.time()
    runner = NODE.environment.runner if NODE.environment else None
    if not isinstance(runner, MasterRunner):
        return
    expected = {str(c.id) for c in runner.clients.all}
    NODE.record["workers"] = sorted(expected)
    runner.stop()
    deadline = time.monotonic() + DONE_WAIT_S
    while not expected <= NODE.done and time.monotonic() < deadline:
        gevent.sleep(0.2)
    NODE.record["workers_unreported"] = sorted(expected - NODE.done)


@events.quit.add_listener  # type: ignore[untyped-decorator]
def _write(**_kw: Any) -> None:
    """Master or single process: the tally and the run record."""
    tally_file = os.environ.get(ENV_TALLY)
    runner = NODE.environment.runner if NODE.environment else None
    if not tally_file or isinstance(runner, WorkerRunner):
        return
    Path(tally_file).write_text(NODE.tally.to_json())
    NODE.record.setdefault("stopping", time.time())
    Path(os.environ[ENV_RUN]).write_text(json.dumps(NODE.record))
