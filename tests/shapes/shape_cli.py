"""Run gauntlet as a user of a cluster of some shape would."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from e2e_cli import gauntlet, summary_of


def user_env() -> dict[str, str]:
    """The environment of a user who set nothing of ours."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KUBE_GAUNTLET_") and k != "KUBECONFIG"
    }


def run_as_user(
    *args: str, timeout: float = 900
) -> subprocess.CompletedProcess:
    """``gauntlet ARGS`` with none of our variables set."""
    return gauntlet(*args, timeout=timeout, env=user_env(), inherit=False)


def results(proc: subprocess.CompletedProcess) -> dict[str, dict[str, Any]]:
    """Guarantee -> its summary entry."""
    return {g["guarantee"]: g for g in summary_of(proc)["guarantees"]}
