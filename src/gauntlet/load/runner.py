"""Run Locust against an API server and collect what it saw.

One Locust process, or a master with local (and remote) workers: every
process is a child of this one, killed when the run ends or is cut short
(and by the kernel when this process dies). The Locust side
(``gauntlet.load.users`` and ``gauntlet.load.shape``) reads the plan from
the environment and writes its merged ``Tally`` and its run record (start,
stop, ramp steps) to files named here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from kubernetes import client as kclient
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

import gauntlet
from gauntlet import progress
from gauntlet.errors import CredentialsRefused, UsageError
from gauntlet.load.credentials import Source, resolve
from gauntlet.load.outcomes import Tally
from gauntlet.load.plan import LoadPlan, plan_to_json, think_to_text
from gauntlet.load.result import LoadResult, RampStep
from gauntlet.load.slo import refusal

__all__ = [
    "ENV_NAMESPACE",
    "ENV_PLAN",
    "ENV_RUN",
    "ENV_RUN_ID",
    "ENV_SCENARIO",
    "ENV_STOP",
    "ENV_TALLY",
    "ENV_THINK",
    "LoadResult",
    "RampStep",
    "RunningLoad",
    "run_load",
    "start_load",
]

USERS = Path(__file__).with_name("users.py")
"""The locustfile, also for remote workers (``-f``)."""
ENV_NAMESPACE = "KG_LOAD_NAMESPACE"
ENV_SCENARIO = "KG_LOAD_SCENARIO"
ENV_THINK = "KG_LOAD_THINK"
"""An unpaced user's think time, ``low,high`` seconds (``LoadPlan
.think_s``); a worker without it uses the default."""
ENV_RUN_ID = "KG_LOAD_RUN_ID"
"""Labels what the run creates (``kg-load-run=<id>``)."""
LABEL = "kg-load-run"
ENV_PLAN = "KG_LOAD_PLAN"
"""The plan as JSON (master or single process only)."""
ENV_TALLY = "KG_LOAD_TALLY"
"""Where the master (or single) Locust process writes its ``Tally``."""
ENV_RUN = "KG_LOAD_RUN"
"""Where it writes the run record: start, stop, users, ramp steps."""
ENV_STOP = "KG_LOAD_STOP"
"""A file whose appearance ends the run early (``RunningLoad.stop``)."""
CLEANUP_S = 3.0
"""A stopping user's time to delete what it created; the label sweep
removes (and counts as leftovers) the rest, so a starved API does not
hold the run's end for a DELETE per object."""
STOP_TIMEOUT_S = 5
"""Users' grace to finish the request in flight at the end (counted in
the second it was sent) and delete what they created
(``CLEANUP_S``); then Locust kills them, a request cut short uncounted."""
SWEEP_TIMEOUT_S = 5
SWEEP_RETRIES = 0
"""A fresh client, so no stale connection to retry on: a silent API is a
``sweep_error`` (leftovers unknown) within 10 s, not a wait."""
EXTRA_TIMEOUT_S = 120
"""Locust's start-up, workers joining and shutdown on top of the run."""
WORKER_WAIT_S = 60
"""How long the master waits for its workers to connect."""


class RunningLoad:
    """Locust running in child processes; a context manager that ends
    them on exit."""

    def __init__(
        self,
        source: Source,
        namespace: str,
        plan: LoadPlan,
        server: str,
        tmp: tempfile.TemporaryDirectory[str],
    ) -> None:
        self.source = source
        self.namespace = namespace
        self.plan = plan
        self.server = server
        self._tmp = tmp
        self._dir = Path(tmp.name)
        self.started_at = time.time()
        self.master_port = 0
        self.run_id = uuid.uuid4().hex[:10]
        self._procs: list[subprocess.Popen[str]] = []
        self._logs: list[IO[str]] = []
        self._result: LoadResult | None = None

    @property
    def tally_file(self) -> Path:
        return self._dir / "tally.json"

    @property
    def run_file(self) -> Path:
        return self._dir / "run.json"

    @property
    def stop_file(self) -> Path:
        return self._dir / "stop"

    @property
    def stats_file(self) -> Path:
        return self._dir / "stats.json"

    def worker_env(self) -> dict[str, str]:
        """What a Locust worker needs besides ``--master-host/-port``:
        the namespace, the scenario, the think time and the credentials'
        source."""
        return {
            **self.source.to_env(),
            ENV_NAMESPACE: self.namespace,
            ENV_SCENARIO: self.plan.scenario,
            ENV_THINK: think_to_text(self.plan.think_s),
            ENV_RUN_ID: self.run_id,
        }

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.worker_env(),
            ENV_PLAN: plan_to_json(self.plan),
            ENV_TALLY: str(self.tally_file),
            ENV_RUN: str(self.run_file),
            ENV_STOP: str(self.stop_file),
            "PYTHONPATH": _pythonpath(),
        }

    def _spawn(self, argv: list[str], log: str) -> None:
        out = (self._dir / log).open("w")
        self._logs.append(out)
        self._procs.append(
            subprocess.Popen(
                argv,
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=_die_with_parent,
            )
        )

    def _start(self) -> None:
        plan = self.plan
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(USERS),
            "--headless",
            "--only-summary",
            "--host",
            self.server,
            "--json-file",
            str(self.stats_file.with_suffix("")),
            "--stop-timeout",
            str(STOP_TIMEOUT_S),
        ]
        if plan.distributed:
            self.master_port = plan.master_port or _free_port(plan.master_bind)
            argv += [
                "--master",
                "--master-bind-host",
                plan.master_bind,
                "--master-bind-port",
                str(self.master_port),
                "--expect-workers",
                str(plan.expected_workers),
                "--expect-workers-max-wait",
                str(WORKER_WAIT_S),
            ]
        self.started_at = time.time()
        self._spawn(argv, "master.log")
        host = (
            "127.0.0.1"
            if plan.master_bind in ("0.0.0.0", "")
            else (plan.master_bind)
        )
        for i in range(plan.workers):
            self._spawn(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(USERS),
                    "--worker",
                    "--master-host",
                    host,
                    "--master-port",
                    str(self.master_port),
                ],
                f"worker-{i}.log",
            )

    def stop(self) -> None:
        """End the run early: the users stop and clean up, the tally is
        written as for a normal end."""
        self.stop_file.touch()

    def result(self, timeout: float | None = None) -> LoadResult:
        """Wait for the run to end and read what it saw.

        Raises:
            UsageError: Locust did not run or recorded nothing.
            CredentialsRefused: the API answered 401 or 403.
            TimeoutError: ``timeout`` passed first (the run goes on).
        """
        if self._result is not None:
            return self._result
        wait = (
            timeout
            if timeout is not None
            else self.plan.duration_s + WORKER_WAIT_S + EXTRA_TIMEOUT_S
        )
        master = self._procs[0]
        try:
            master.wait(wait)
        except subprocess.TimeoutExpired as exc:
            if timeout is not None:
                raise TimeoutError(
                    f"load on {self.server}: still running after {timeout}s"
                ) from exc
            self.close()
            raise UsageError(
                f"load on {self.server}: locust did not end in {wait}s"
            ) from exc
        for proc in self._procs[1:]:
            try:
                proc.wait(STOP_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                proc.kill()
        tally = self._read_tally()
        record = _read_json(self.run_file, {})
        rows = _read_json(self.stats_file, [])
        started = float(record.get("started", self.started_at))
        ended = float(record.get("stopping", time.time()))
        self._result = LoadResult(
            tally=tally,
            locust_stats=rows if isinstance(rows, list) else [],
            seconds=max(ended - started, 1e-9),
            server=self.server,
            started_at=started,
            ended_at=ended,
            plan=self.plan,
            steps=tuple(
                RampStep(float(s["rate"]), float(s["start"]), float(s["end"]))
                for s in record.get("steps", [])
            ),
            users=int(record.get("users", self.plan.users)),
            unreported_workers=tuple(record.get("workers_unreported", [])),
            **self._sweep(),
        )
        refused = refusal(tally)
        if refused:
            raise CredentialsRefused(
                f"load on {self.server} (context {self.source.label}): "
                f"{refused}"
            )
        return self._result

    def _sweep(self) -> dict[str, Any]:
        """Count and delete what the run's users left in the namespace
        (a user killed mid-run, a create whose answer was lost)."""
        selector = f"{LABEL}={self.run_id}"
        try:
            config = resolve(self.source).configuration
            config.retries = SWEEP_RETRIES  # urllib3's 3: 4 timeouts in a row
            api = kclient.CoreV1Api(kclient.ApiClient(config))
            left = api.list_namespaced_config_map(
                self.namespace,
                label_selector=selector,
                _request_timeout=SWEEP_TIMEOUT_S,
            ).items
            if left:
                api.delete_collection_namespaced_config_map(
                    self.namespace,
                    label_selector=selector,
                    _request_timeout=SWEEP_TIMEOUT_S,
                )
        except (ApiException, OSError, UsageError, Urllib3Error) as exc:
            return {
                "leftovers": None,
                "sweep_error": f"{selector} in {self.namespace}: {exc}"[:300],
            }
        return {"leftovers": len(left), "sweep_error": ""}

    def _read_tally(self) -> Tally:
        """The master's (or single process's) merged tally.

        Raises:
            UsageError: Locust wrote none (it did not start or crashed).
        """
        try:
            return Tally.from_json(self.tally_file.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"load: locust recorded no outcomes (exit "
                f"{self._procs[0].returncode}, {type(exc).__name__}): "
                f"{self.log_tail()}"
            ) from exc

    def log_tail(self, chars: int = 600) -> str:
        """The end of every Locust process's output, for error messages."""
        tails = []
        for path in sorted(self._dir.glob("*.log")):
            text = path.read_text(errors="replace").strip()
            if text:
                tails.append(f"[{path.stem}] {text[-chars:]}")
        return " ".join(tails) or "no output"

    def close(self) -> None:
        """Kill whatever still runs and drop the temp files."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self._procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for out in self._logs:
            out.close()
        self._tmp.cleanup()

    def __enter__(self) -> RunningLoad:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_load(source: Source, namespace: str, plan: LoadPlan) -> RunningLoad:
    """Start Locust driving the API in ``namespace`` as ``plan`` says.

    Raises:
        UsageError: the credentials cannot be resolved or Locust cannot
            start.
    """
    server = resolve(source).server
    tmp = tempfile.TemporaryDirectory(prefix="kg-load-")
    running = RunningLoad(source, namespace, plan, server, tmp)
    try:
        running._start()
    except OSError as exc:
        running.close()
        raise UsageError(f"load: cannot start locust: {exc}") from exc
    return running


def run_load(source: Source, namespace: str, plan: LoadPlan) -> LoadResult:
    """Drive the API with ``plan`` and wait for the end.

    The credentials are those the kubernetes client finds for ``source``;
    the run stops at the first 401 or 403.

    Raises:
        UsageError: the credentials cannot be resolved, or Locust did not
            run.
        CredentialsRefused: the API answered 401 or 403.
    """
    with progress.step(f"Load: {plan.describe()}"):
        with start_load(source, namespace, plan) as running:
            return running.result()


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when this process dies, so no Locust
    outlives a killed test run."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _pythonpath() -> str:
    """This gauntlet first: the Locust process imports the same package."""
    here = str(Path(gauntlet.__file__).resolve().parents[1])
    rest = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (here, rest) if p)
