"""Run the installed gauntlet command as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gauntlet.reporting.timelines_page import image_attachments

GAUNTLET = str(Path(sys.executable).with_name("gauntlet"))
PROJECT = Path(__file__).resolve().parents[2]


def gauntlet(
    *args: str,
    timeout: float = 900,
    env: dict[str, str] | None = None,
    inherit: bool = True,
) -> subprocess.CompletedProcess:
    """``gauntlet ARGS``; ``env`` added to this process's environment, or
    with ``inherit=False`` the whole environment."""
    base = dict(os.environ) if inherit else {}
    return subprocess.run(
        [GAUNTLET, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT,
        env={**base, **(env or {})},
    )


def one_clear_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [
        ln
        for ln in proc.stderr.splitlines()
        if ln.startswith("gauntlet: error:")
    ]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def summary_path(proc: subprocess.CompletedProcess) -> Path:
    """The summary.json a `gauntlet run` printed; its run's directory
    holds ``allure-results/``."""
    paths = [
        ln.split(":", 1)[1].strip()
        for ln in proc.stdout.splitlines()
        if ln.startswith("summary:")
    ]
    assert paths, f"no summary:\n{(proc.stdout + proc.stderr)[-3000:]}"
    return Path(paths[0])


def summary_of(proc: subprocess.CompletedProcess) -> dict:
    """The summary.json whose path a `gauntlet run` printed."""
    return json.loads(summary_path(proc).read_text())


def images_by_guarantee(proc: subprocess.CompletedProcess) -> dict[str, list]:
    """Guarantee -> names of the image attachments (SVG or PNG) of its
    allure results, also those its fixtures attached."""
    results = summary_path(proc).parent / "allure-results"
    found: dict[str, list] = {}
    for plot in image_attachments(results):
        found.setdefault(plot.guarantee, []).append(plot.name)
    return found
