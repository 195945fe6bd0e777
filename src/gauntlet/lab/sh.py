"""Run host commands for the lab with errors that say which step failed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from gauntlet.errors import LabError


def run(
    argv: Sequence[str],
    check: bool = True,
    input_text: str | None = None,
    timeout_s: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; with ``check`` a failure raises LabError with stderr."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            input=input_text,
            timeout=timeout_s,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is not installed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(
            f"{' '.join(argv)} timed out after {timeout_s}s"
        ) from exc
    if check and proc.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-400:]}"
        )
    return proc


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run in a node's network namespace only (keeps host mounts)."""
    return ["nsenter", f"--net=/run/netns/{netns}", *argv]
