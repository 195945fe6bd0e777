"""Run the e2e binary under ginkgo: list what a mode selects, then run it
with progress, keeping ginkgo's own reports.

The ginkgo CLI runs the precompiled suite (``--procs N`` for ginkgo's own
parallelism, the way upstream's hack/ginkgo-e2e.sh does). Progress comes
from ginkgo's succinct output: one ``•`` per spec that ran, and a
``[FAILED]`` header for each one that failed.
"""

from __future__ import annotations

import codecs
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gauntlet import progress
from gauntlet.children import wait_or_kill
from gauntlet.conformance.binary import E2eTools
from gauntlet.conformance.modes import Selection, go_literal
from gauntlet.conformance.specs import Spec, read_report
from gauntlet.errors import ToolFailed

__all__ = [
    "Progress",
    "RunOutcome",
    "RunRequest",
    "list_specs",
    "run_specs",
]

REPORT_JSON = "report.json"
REPORT_JUNIT = "junit.xml"
"""Ginkgo's reports, kept in the run's directory (upstream's format)."""
OUTPUT_LOG = "ginkgo.log"
PROGRESS_EVERY_S = 30.0
CLEANUP_GRACE_S = 300.0
"""How long an interrupted run waits for ginkgo's own clean-up (each
spec deletes its namespace) before it is killed."""
_FAILED = re.compile(r"^• \[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED)\]")


@dataclass(frozen=True)
class RunRequest:
    """One ginkgo run against one cluster."""

    tools: E2eTools
    kubeconfig: Path | None
    """None: in cluster (the e2e binary reads the service account)."""
    context: str | None
    selection: Selection
    skip: tuple[str, ...]
    """Names of specs set aside (a missing image); matched exactly."""
    out_dir: Path
    procs: int = 1
    repo_list: Path | None = None
    """The e2e suite's registry override (``KUBE_TEST_REPO_LIST``)."""
    timeout_s: float = 6 * 3600.0

    def ginkgo_argv(self, dry_run: bool = False) -> list[str]:
        argv = [
            str(self.tools.ginkgo),
            "--no-color",
            f"--procs={1 if dry_run else max(1, self.procs)}",
            f"--timeout={int(self.timeout_s)}s",
            f"--output-dir={self.out_dir}",
            f"--json-report={REPORT_JSON}",
            *self.selection.ginkgo_args(),
            *(f"--skip={go_literal(name)}" for name in self.skip),
        ]
        if dry_run:
            argv.append("--dry-run")
        else:
            argv.append(f"--junit-report={REPORT_JUNIT}")
        argv += [str(self.tools.e2e), "--", *self._e2e_args()]
        return argv

    def _e2e_args(self) -> list[str]:
        args = [
            "--provider=skeleton",
            f"--kubectl-path={self.tools.kubectl}",
        ]
        if self.kubeconfig is not None:
            args.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            args.append(f"--context={self.context}")
        return args

    def environment(self) -> dict[str, str]:
        return (
            {"KUBE_TEST_REPO_LIST": str(self.repo_list)}
            if self.repo_list
            else {}
        )


@dataclass
class Progress:
    """Counted from ginkgo's output while it runs.

    Ginkgo prints one ``•`` per spec that ran, on one long line with the
    ``S`` of skipped specs, so output is fed as it arrives, not by line;
    a failed spec's ``• [FAILED]`` header line is followed by its name.
    """

    total: int
    done: int = 0
    failed: list[str] = field(default_factory=list)
    _partial: str = ""
    _expect_name: bool = False

    def feed(self, chunk: str) -> list[str]:
        """Count a piece of output; return specs newly seen failing."""
        self.done += chunk.count("•")
        *lines, self._partial = (self._partial + chunk).split("\n")
        new = []
        for line in lines:
            if self._expect_name:
                new.append(line.strip())
                self._expect_name = False
            elif _FAILED.match(line):
                self._expect_name = True
        self.failed += new
        return new

    def line(self, elapsed_s: float) -> str:
        return (
            f"conformance: {self.done}/{self.total} specs done, "
            f"{len(self.failed)} failed, {elapsed_s / 60:.1f} min"
        )


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    seconds: float
    report: Path
    junit: Path
    log: Path
    failed_seen: tuple[str, ...]


def list_specs(request: RunRequest) -> list[Spec]:
    """The specs ``request`` would run (a ginkgo dry run: nothing reaches
    the cluster).

    Raises:
        ToolFailed: the dry run failed (its output's tail says why).
    """
    request.out_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        request.ginkgo_argv(dry_run=True),
        capture_output=True,
        text=True,
        check=False,
        env=_env(request),
    )
    report = request.out_dir / REPORT_JSON
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
        raise ToolFailed(
            f"listing the specs (ginkgo --dry-run) failed with exit "
            f"{done.returncode}: " + " | ".join(tail)
        )
    specs = [r.spec for r in read_report(report) if r.state == "passed"]
    report.unlink(missing_ok=True)
    return specs


def run_specs(
    request: RunRequest,
    total: int,
    say: Callable[[str], None] = progress.say,
) -> RunOutcome:
    """Run the selected specs, saying how far along the run is every
    ``PROGRESS_EVERY_S`` seconds and naming each failure as it happens.

    Ctrl-C reaches ginkgo too (same process group), which then runs the
    specs' clean-up (their namespaces are deleted): the run waits for
    that before it gives up.
    """
    request.out_dir.mkdir(parents=True, exist_ok=True)
    log = request.out_dir / OUTPUT_LOG
    counted = Progress(total)
    start = time.monotonic()
    stop = threading.Event()

    def report_progress() -> None:
        while not stop.wait(PROGRESS_EVERY_S):
            say(counted.line(time.monotonic() - start))

    ticker = threading.Thread(target=report_progress, daemon=True)
    say(
        f"conformance: running {total} specs "
        f"({request.selection.mode}, {request.procs} ginkgo process(es)); "
        f"output in {log}"
    )
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            request.ginkgo_argv(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_env(request),
        )
        ticker.start()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            assert proc.stdout is not None
            while chunk := os.read(proc.stdout.fileno(), 65536):
                text = decoder.decode(chunk)
                out.write(text)
                out.flush()
                for name in counted.feed(text):
                    say(f"conformance: FAILED {name}")
            code = proc.wait()
        except BaseException as exc:
            say("conformance: stopping; ginkgo cleans up its namespaces")
            if not isinstance(exc, KeyboardInterrupt):
                # Ctrl-C reached ginkgo itself; a second one would make it
                # skip its clean-up. Anything else (SIGTERM): tell it once.
                proc.send_signal(signal.SIGINT)
            wait_or_kill(proc, CLEANUP_GRACE_S)
            raise
        finally:
            stop.set()
    seconds = time.monotonic() - start
    say(counted.line(seconds) + f": ginkgo exit {code}")
    return RunOutcome(
        exit_code=code,
        seconds=seconds,
        report=request.out_dir / REPORT_JSON,
        junit=request.out_dir / REPORT_JUNIT,
        log=log,
        failed_seen=tuple(counted.failed),
    )


def _env(request: RunRequest) -> dict[str, str]:
    return {**os.environ, **request.environment()}
