"""pytest plugin: guarantee markers, measurements and the run summary.

Loaded through the ``pytest11`` entry point ``gauntlet`` (or with
``-p gauntlet.pytest_plugin``). It ties every test to a catalogue ID at
collection time, so a typo is an error before anything touches a cluster,
and folds test outcomes into per-guarantee verdicts at the end.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gauntlet.catalogue import PROFILE_NAMES, load_catalogue
from gauntlet.errors import GauntletError, RunStopped, UsageError
from gauntlet.reporting import attach
from gauntlet.reporting.history import append_run, record_of
from gauntlet.reporting.measurements import (
    Measurement,
    Stopwatch,
    utc_iso,
    utc_now,
)
from gauntlet.reporting.parts import PartResult
from gauntlet.reporting.summary import (
    CaseOutcome,
    Outcome,
    RunSummary,
    build_summary,
    render_table,
    write_summary,
)
from gauntlet.runid import new_run_id

__all__ = ["Measure", "faults_of", "guarantee_of"]

MARKERS = (
    "guarantee(id): the catalogue guarantee this test checks "
    "(docs/guarantees.md)",
    "profile(name): the profile the test belongs to: "
    + ", ".join(PROFILE_NAMES),
    "disruptive: breaks something on the cluster (kill, stop, partition)",
    "serial: must not run alongside any other test",
    "slow: takes minutes rather than seconds",
    "lab_only: needs the kube-gauntlet lab cluster",
    "readonly: only reads the cluster, so it runs without a namespace of "
    "its own, also when the cluster refuses writes",
    "faults(*descriptions): the faults the test injects, e.g. "
    '"kill etcd leader" (listed by gauntlet run --dry-run)',
)
_TRAITS = ("disruptive", "serial", "slow", "lab_only", "readonly")

# Outcome precedence within one test: a later phase may only worsen it.
_RANK: dict[Outcome, int] = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}


class _Recorder:
    """Per-session outcomes and measurements; one instance per config.

    Registered as a plugin object rather than kept in module globals, so
    nested in-process runs (pytester) never share state.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = utc_iso(utc_now())
        self.cases: dict[str, CaseOutcome] = {}
        self.measurements: dict[str, list[Measurement]] = {}
        self.parts: dict[str, list[PartResult]] = {}
        self.summary: RunSummary | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        gid = dict(report.user_properties).get("guarantee")
        outcome = _phase_outcome(report)
        if not isinstance(gid, str) or outcome is None:
            return
        previous = self.cases.get(report.nodeid)
        if previous is None or _RANK[outcome] > _RANK[previous.outcome]:
            self.cases[report.nodeid] = CaseOutcome(
                report.nodeid, gid, outcome, _message(report)
            )

    def pytest_sessionfinish(self) -> None:
        path = self.config.getoption("gauntlet_summary")
        if path is None:
            return
        self.summary = self._summarise()
        write_summary(self.summary, Path(path))
        # reports/<run>/summary.json -> reports/history/<context>.jsonl;
        # losing one trend point must not cost the run its verdicts.
        reports = Path(path).resolve().parent.parent
        try:
            append_run(reports, record_of(self.summary))
        except GauntletError as exc:
            print(f"kube-gauntlet: warning: no history: {exc}", file=sys.stderr)

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter
    ) -> None:
        if self.summary is None:
            return
        terminalreporter.write_sep("=", "guarantees")
        for line in render_table(self.summary).splitlines():
            terminalreporter.write_line(line)
        path = self.config.getoption("gauntlet_summary")
        terminalreporter.write_line(f"summary written to {path}")

    def _summarise(self) -> RunSummary:
        outcomes = [
            replace(
                case,
                measurements=tuple(self.measurements.get(nodeid, ())),
                parts=tuple(self.parts.get(nodeid, ())),
            )
            for nodeid, case in self.cases.items()
        ]
        option = self.config.getoption
        return build_summary(
            outcomes,
            run_id=option("gauntlet_run_id") or new_run_id(),
            context=option("gauntlet_context"),
            profile=option("gauntlet_profile"),
            started=self.started,
            ended=utc_iso(utc_now()),
            order=load_catalogue().ids,
            strict=bool(option("gauntlet_strict")),
        )


_RECORDER = pytest.StashKey[_Recorder]()


def guarantee_of(item: pytest.Item) -> str | None:
    """The guarantee ID of ``item`` (closest ``guarantee`` marker)."""
    marker = item.get_closest_marker("guarantee")
    if marker is None or len(marker.args) != 1:
        return None
    return str(marker.args[0])


def faults_of(item: pytest.Item) -> list[str]:
    """The fault descriptions of every ``faults`` marker on ``item``."""
    return [
        str(arg)
        for marker in item.iter_markers("faults")
        for arg in marker.args
    ]


class Measure:
    """The ``measure`` fixture: records values for the test's guarantee."""

    def __init__(
        self,
        guarantee: str | None,
        sink: Callable[[Measurement], None],
        record_property: Callable[[str, object], None],
    ) -> None:
        self.guarantee = guarantee
        self._sink = sink
        self._record_property = record_property

    def __call__(
        self,
        name: str,
        value: float,
        unit: str,
        bound: float | None = None,
        span: tuple[float, float] | None = None,
    ) -> Measurement:
        """Record a value computed by the test; return the record.
        ``span``: the epoch seconds it was measured from and to."""
        if span is None:
            measurement = Measurement.instant(
                name, value, unit, bound=bound, guarantee=self.guarantee
            )
        else:
            measurement = Measurement.spanning(
                name, value, unit, span, bound=bound, guarantee=self.guarantee
            )
        self._record(measurement)
        return measurement

    @contextlib.contextmanager
    def timer(
        self, name: str, bound: float | None = None
    ) -> Iterator[Stopwatch]:
        """Time the block in seconds; a raising block is recorded failed."""
        watch = Stopwatch(name, bound=bound, guarantee=self.guarantee)
        try:
            with watch:
                yield watch
        finally:
            if watch.measurement is not None:
                self._record(watch.measurement)

    def _record(self, measurement: Measurement) -> None:
        self._sink(measurement)
        data = measurement.to_dict()
        attach.attach_json(f"measurement: {measurement.name}", data)
        attach.parameter(measurement.name, measurement.short().split("=", 1)[1])
        self._record_property(
            f"measurement:{measurement.name}", json.dumps(data)
        )


@pytest.fixture
def measure(
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> Measure:
    """Record measurements as evidence for the test's guarantee."""
    node: pytest.Item = request.node
    recorder = request.config.stash[_RECORDER]
    sink = recorder.measurements.setdefault(node.nodeid, []).append
    return Measure(guarantee_of(node), sink, record_property)


@pytest.fixture
def record_part(
    request: pytest.FixtureRequest,
) -> Callable[[PartResult], None]:
    """Record the parts of the test's guarantee a check observed."""
    node: pytest.Item = request.node
    recorder = request.config.stash[_RECORDER]
    sink = recorder.parts.setdefault(node.nodeid, []).append

    def record(part: PartResult) -> None:
        sink(part)
        attach.attach_json(f"part: {part.name}", part.to_dict())

    return record


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gauntlet", "kube-gauntlet")
    group.addoption(
        "--gauntlet-strict",
        action="store_true",
        default=False,
        help="a guarantee with parts left unobserved fails instead of "
        "passing with the parts named (CI gating: full coverage or nothing)",
    )
    group.addoption(
        "--gauntlet-summary",
        metavar="PATH",
        default=None,
        help="write per-guarantee verdicts to PATH (summary.json) and "
        "print the verdict table at the end",
    )
    group.addoption(
        "--gauntlet-run-id",
        metavar="ID",
        default=None,
        help="run identifier for the summary (default: UTC time + random)",
    )
    group.addoption(
        "--gauntlet-context",
        metavar="NAME",
        default=None,
        help="kubeconfig context under test, recorded in the summary",
    )
    group.addoption(
        "--gauntlet-profile",
        metavar="NAME",
        default=None,
        help="profile being run, recorded in the summary",
    )
    group.addoption(
        "--gauntlet-stop-reason",
        metavar="PATH",
        default=None,
        help="when a guarantee test stops the run (credentials refused), "
        "write the one-line reason to PATH",
    )
    group.addoption(
        "--gauntlet-list-guarantees",
        metavar="PATH",
        default=None,
        help="after collection, write {nodeid: {guarantee, faults, "
        "traits}} of the selected tests to PATH as JSON",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    recorder = _Recorder(config)
    config.stash[_RECORDER] = recorder
    config.pluginmanager.register(recorder, "gauntlet-recorder")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Turn bad guarantee/profile markers into a collection error."""
    report = yield
    if not report.passed:
        return report
    problems = [
        problem
        for node in report.result
        if isinstance(node, pytest.Item)
        for problem in _marker_problems(node)
    ]
    if problems:
        report.outcome = "failed"
        report.longrepr = "\n".join(problems)
        report.result = []
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    """Write the test -> guarantee listing for ``gauntlet guarantees``."""
    path = session.config.getoption("gauntlet_list_guarantees")
    if path is None:
        return
    listing = {
        item.nodeid: {
            "guarantee": guarantee_of(item),
            "faults": faults_of(item),
            "traits": [t for t in _TRAITS if item.get_closest_marker(t)],
        }
        for item in session.items
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(listing, indent=2) + "\n", encoding="utf-8")


def pytest_itemcollected(item: pytest.Item) -> None:
    gid = guarantee_of(item)
    if gid is not None:
        # Same effect as record_property, but also for skipped tests.
        item.user_properties.append(("guarantee", gid))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Label the allure result before any skip or fixture can stop setup."""
    gid = guarantee_of(item)
    if gid is not None:
        entry = load_catalogue().get(gid)
        attach.label("guarantee", gid)
        attach.label("profile", entry.profile)
        attach.tag(gid)
        attach.suite(f"{entry.area} ({entry.profile})", f"{gid}: {entry.claim}")
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A guarantee test that finds the run misconfigured (``RunStopped``:
    the API refused the credentials) stops the whole run: no later test
    could give a verdict either. The reason goes to the stop file, for
    ``gauntlet run`` to print as its one error line (exit 2)."""
    try:
        return (yield)
    except RunStopped as exc:
        if guarantee_of(item) is None:
            raise
        path = item.config.getoption("gauntlet_stop_reason")
        if path is not None:
            out = Path(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(f"{exc}\n", encoding="utf-8")
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def _marker_problems(item: pytest.Item) -> list[str]:
    problems: list[str] = []
    for marker in item.iter_markers("guarantee"):
        args = marker.args
        if len(args) != 1 or not isinstance(args[0], str) or marker.kwargs:
            problems.append(
                f"{item.nodeid}: guarantee marker takes exactly one ID "
                f"string, got {args!r}"
            )
            continue
        try:
            load_catalogue().get(args[0])
        except UsageError as exc:
            problems.append(f"{item.nodeid}: {exc}")
    for marker in item.iter_markers("profile"):
        if len(marker.args) != 1 or marker.args[0] not in PROFILE_NAMES:
            problems.append(
                f"{item.nodeid}: profile marker takes one of "
                f"{', '.join(PROFILE_NAMES)}, got {marker.args!r}"
            )
    return problems


def _phase_outcome(report: pytest.TestReport) -> Outcome | None:
    if report.skipped:
        return "skipped"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "passed" if report.when == "call" else None


def _message(report: pytest.TestReport) -> str:
    """Skip reason or the failure's first line, never a whole traceback."""
    longrepr: Any = report.longrepr
    if report.skipped:
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        if hasattr(report, "wasxfail"):
            reason = f"xfail: {report.wasxfail or reason}"
        return str(reason).removeprefix("Skipped: ")
    if not report.failed:
        return ""
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if report.when == "call" else f"{report.when}: {first}"
