"""Child processes stopped one way: let them clean up, then kill them.

A child that was interrupted (pytest rolling back its faults, ginkgo
deleting its namespaces) gets a grace period to finish that work; only
after it is the process killed, so a hung clean-up cannot hang the run.
"""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["wait_or_kill"]


def wait_or_kill(proc: subprocess.Popen[Any], grace_s: float) -> int:
    """Wait up to ``grace_s`` for ``proc`` to end, else kill it; return
    its exit code."""
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
