"""Run the Locust user against an API server and collect what it saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gauntlet
from gauntlet import progress
from gauntlet.errors import CredentialsRefused, UsageError
from gauntlet.load.credentials import Source, resolve
from gauntlet.load.outcomes import Tally
from gauntlet.load.slo import refusal

__all__ = ["ENV_NAMESPACE", "ENV_TALLY", "LoadResult", "run_load"]

USERS = Path(__file__).with_name("users.py")
ENV_NAMESPACE = "KG_LOAD_NAMESPACE"
ENV_TALLY = "KG_LOAD_TALLY"
"""Where the Locust process writes its ``Tally`` as it quits."""
STOP_TIMEOUT_S = 5
EXTRA_TIMEOUT_S = 120
"""Locust's start-up and shutdown on top of the run's own seconds."""


@dataclass(frozen=True)
class LoadResult:
    """What a Locust run saw."""

    tally: Tally
    """Every request's outcome: the verdict is judged from this."""
    locust_stats: list[dict[str, Any]]
    """Locust's own ``--json-file`` rows, kept as evidence."""
    seconds: float
    server: str

    @property
    def requests(self) -> int:
        return self.tally.requests

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.tally.by_status().items() if s >= 500)


def run_load(
    kubeconfig: Path | None,
    context: str | None,
    namespace: str,
    users: int = 10,
    spawn_rate: float = 5.0,
    seconds: int = 30,
    in_cluster: bool = False,
) -> LoadResult:
    """Drive the API for ``seconds`` with ``users`` Locust users.

    The credentials are those the kubernetes client finds for
    ``kubeconfig``/``context``; the run stops at the first 401 or 403.

    Raises:
        UsageError: the credentials cannot be resolved, or Locust did not
            run.
        CredentialsRefused: the API answered 401 or 403.
    """
    source = Source(kubeconfig, context, in_cluster)
    with tempfile.TemporaryDirectory(prefix="kg-load-") as name:
        tmp = Path(name)
        server = resolve(source).server
        tally_file = tmp / "tally.json"
        env = {
            **os.environ,
            **source.to_env(),
            ENV_NAMESPACE: namespace,
            ENV_TALLY: str(tally_file),
            "PYTHONPATH": _pythonpath(),
        }
        stats_file = tmp / "stats.json"
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(USERS),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(spawn_rate),
            "-t",
            f"{seconds}s",
            "--host",
            server,
            "--json-file",
            str(stats_file.with_suffix("")),
            "--stop-timeout",
            str(STOP_TIMEOUT_S),
        ]
        with progress.step(f"Load: {users} users for {seconds}s on {server}"):
            proc = subprocess.run(
                argv,
                env=env,
                capture_output=True,
                text=True,
                timeout=seconds + EXTRA_TIMEOUT_S,
            )
        tally = _read_tally(tally_file, proc)
        rows = json.loads(stats_file.read_text()) if stats_file.exists() else []
    refused = refusal(tally)
    if refused:
        raise CredentialsRefused(
            f"load on {server} (context {source.label}): {refused}"
        )
    return LoadResult(tally, rows, float(seconds), server)


def _read_tally(path: Path, proc: subprocess.CompletedProcess[str]) -> Tally:
    """The Locust process's tally.

    Raises:
        UsageError: Locust wrote none (it did not start or crashed).
    """
    try:
        return Tally.from_json(path.read_text())
    except (OSError, ValueError) as exc:
        tail = (proc.stderr or proc.stdout or "").strip()[-400:]
        raise UsageError(
            f"load: locust recorded no outcomes (exit {proc.returncode}, "
            f"{type(exc).__name__}): {tail}"
        ) from exc


def _pythonpath() -> str:
    """This gauntlet first: the Locust process imports the same package."""
    here = str(Path(gauntlet.__file__).resolve().parents[1])
    rest = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (here, rest) if p)
