"""Run pytest for ``gauntlet run``/``guarantees`` in a child process.

A child process keeps a crashing suite, a signal or a hung fixture from
taking the CLI down with it, and gives the suites a clean interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet import progress
from gauntlet.children import wait_or_kill
from gauntlet.errors import UsageError

__all__ = [
    "PYTEST_EXIT_NAMES",
    "PYTEST_FAILED",
    "PYTEST_INTERRUPTED",
    "PYTEST_NO_TESTS",
    "PYTEST_OK",
    "Listing",
    "RunFiles",
    "collect",
    "pytest_base",
    "run_pytest",
]

ROLLBACK_GRACE_S = 300.0
"""How long an interrupted CLI waits for pytest to roll its faults back."""
PYTEST_OK, PYTEST_FAILED, PYTEST_INTERRUPTED, PYTEST_NO_TESTS = 0, 1, 2, 5
"""pytest's own exit codes, which ``gauntlet run`` maps to its own."""
PYTEST_EXIT_NAMES = {
    PYTEST_INTERRUPTED: "interrupted",
    3: "internal error",
    4: "usage error",
}


@dataclass(frozen=True)
class RunFiles:
    """Where one run writes its results, under ``reports/<run-id>/``."""

    root: Path

    @property
    def allure_results(self) -> Path:
        return self.root / "allure-results"

    @property
    def junit(self) -> Path:
        return self.root / "junit.xml"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def html(self) -> Path:
        return self.root / "html"

    @property
    def screenshot(self) -> Path:
        """A PNG of the HTML report (``--screenshot``)."""
        return self.root / "report.png"

    @property
    def stop_reason(self) -> Path:
        """Written by the plugin when a test stopped the run."""
        return self.root / "stopped.txt"


@dataclass(frozen=True)
class ListedTest:
    """One collected test, as the plugin's listing describes it."""

    nodeid: str
    guarantee: str | None
    faults: tuple[str, ...]
    traits: tuple[str, ...]


Listing = tuple[ListedTest, ...]


def pytest_base(
    paths: Sequence[str], markers: str, keyword: str | None
) -> list[str]:
    """``python -m pytest <paths> [-m M] [-k K] -p gauntlet``.

    ``-p gauntlet`` names the plugin's entry point; ``-p
    gauntlet.pytest_plugin`` would register the module a second time when
    the package is installed, which pytest refuses.
    """
    argv = [sys.executable, "-m", "pytest", *paths, "-p", "gauntlet"]
    if markers:
        argv += ["-m", markers]
    if keyword:
        argv += ["-k", keyword]
    return argv


def collect(project: Path, base: Sequence[str]) -> Listing:
    """Collect without running; return the selected tests.

    Raises:
        UsageError: collection failed (pytest's output is shown first).
    """
    with tempfile.TemporaryDirectory(prefix="gauntlet-collect-") as tmp:
        listing_path = Path(tmp) / "listing.json"
        argv = [*base, "--collect-only", "-q", "-p", "no:cacheprovider"]
        argv += ["--gauntlet-list-guarantees", str(listing_path)]
        done = subprocess.run(
            argv, cwd=project, capture_output=True, text=True, check=False
        )
        if done.returncode not in (PYTEST_OK, PYTEST_NO_TESTS):
            sys.stderr.write(done.stdout[-4000:] + done.stderr[-2000:])
            raise UsageError(
                f"collecting the suites failed (pytest exit "
                f"{done.returncode}): see pytest's output above"
            )
        if done.returncode == PYTEST_NO_TESTS or not listing_path.is_file():
            return ()
        data: dict[str, Any] = json.loads(listing_path.read_text("utf-8"))
    return tuple(
        ListedTest(
            nodeid,
            info.get("guarantee"),
            tuple(info.get("faults") or ()),
            tuple(info.get("traits") or ()),
        )
        for nodeid, info in data.items()
    )


def run_pytest(
    project: Path, argv: Sequence[str], env: Mapping[str, str]
) -> int:
    """Run pytest with inherited stdio; return its exit code.

    Ctrl-C reaches pytest too (same process group): the CLI then waits for
    it to roll back its faults before giving up. SIGTERM is forwarded.
    """
    proc = subprocess.Popen(list(argv), cwd=project, env={**os.environ, **env})

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        progress.say("interrupted: waiting for pytest to roll back faults")
        wait_or_kill(proc, ROLLBACK_GRACE_S)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
