"""Run the user's upgrade command for UPG-06, and read the steps it wrote.

The command is whatever upgrades the cluster (``gauntlet lab upgrade``,
a kubeadm playbook, a managed offering's CLI); the check only measures
around it. Its output is shown as it comes (an upgrade takes minutes)
and kept whole in the run's directory. A command may write its steps as
JSON lines (``gauntlet.upgrade_steps``) to the file named by
``KUBE_GAUNTLET_UPGRADE_STEPS_FILE``: they become the report's per-step
durations.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gauntlet.children import wait_or_kill
from gauntlet.upgrade_steps import UPGRADE_STEPS_ENV

__all__ = ["CommandResult", "run_upgrade"]

UPGRADE_TIMEOUT_S = 3600.0
STOP_GRACE_S = 30.0
TAIL_LINES = 15


@dataclass(frozen=True)
class CommandResult:
    """How the upgrade command ended."""

    exit_code: int
    start: float
    end: float
    """Epoch seconds (the clock pod logs and steps files use)."""
    started: float
    ended: float
    """Monotonic seconds (the clock the write recorder uses)."""
    tail: tuple[str, ...]
    timed_out: bool = False

    @property
    def seconds(self) -> float:
        return self.end - self.start


def run_upgrade(
    command: str,
    log: Path,
    steps_file: Path,
    say: Callable[[str], object],
    timeout_s: float = UPGRADE_TIMEOUT_S,
) -> CommandResult:
    """Run ``command`` with ``sh -c``, its output shown and kept in
    ``log``; stopped (SIGTERM, then SIGKILL) at the timeout or when the
    run is interrupted, which then propagates."""
    env = {**os.environ, UPGRADE_STEPS_ENV: str(steps_file)}
    tail: list[str] = []
    start, started = time.time(), time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        timed_out = False
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
                say(f"upgrade: {line.rstrip()}")
                tail = [*tail[-(TAIL_LINES - 1) :], line.rstrip()]
                if time.time() - start > timeout_s:
                    timed_out = True
                    break
        finally:
            if proc.poll() is None:
                proc.terminate()
            code = wait_or_kill(proc, STOP_GRACE_S)
    return CommandResult(
        code,
        start,
        time.time(),
        started,
        time.monotonic(),
        tuple(tail),
        timed_out,
    )
