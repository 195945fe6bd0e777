"""Run one Chaos Toolkit experiment file with kube-gauntlet's rules.

On top of chaoslib's ``run_experiment``: the file is validated first (a
malformed file is an ``InvalidScenario``); the run gets an id, a fault
ledger and ``reports/<run-id>/`` for its journal and log; every fault is
rolled back through the ledger at the end, also on Ctrl-C or SIGTERM.

The verdict is stricter than chaoslib's status, which reports
``completed`` and not deviated when the steady state was not met before
the method (and the method was skipped): that is a failure here, like a
deviation, a failed method activity or a failed rollback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from kubernetes.config import kube_config

from gauntlet.chaos import _context
from gauntlet.cluster.client import ClusterTarget
from gauntlet.errors import InvalidScenario
from gauntlet.faults.ledger import FaultLedger, install_signal_handlers
from gauntlet.runid import RUN_ID_ENV

__all__ = [
    "ExperimentResult",
    "Verdict",
    "judge",
    "load_experiment_file",
    "run_experiment_file",
]

Verdict = Literal["passed", "failed", "interrupted"]
LOGGER = "chaostoolkit"


@dataclass(frozen=True)
class ExperimentResult:
    """What one experiment run concluded, and where its journal is."""

    run_id: str
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    """Why it failed, one short line each."""
    journal: Path | None = None
    rollback_failures: tuple[str, ...] = field(default=())


def load_experiment_file(path: Path) -> dict[str, Any]:
    """Read and validate an experiment (JSON) with chaoslib's validator.

    Raises:
        InvalidScenario: unreadable, not JSON, or invalid for chaoslib;
            one line naming the file and the problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidScenario(
            f"experiment {path}: cannot read ({exc.strerror})"
        ) from exc
    try:
        experiment = json.loads(text)
    except ValueError as exc:
        raise InvalidScenario(f"experiment {path}: not JSON ({exc})") from exc
    if not isinstance(experiment, dict):
        raise InvalidScenario(f"experiment {path}: not a JSON object")
    try:
        with _quiet_chaoslib():
            ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InvalidScenario(
            f"experiment {path}: {first or type(exc).__name__}"
        ) from exc
    return experiment


def run_experiment_file(
    path: Path,
    target: ClusterTarget,
    run_id: str,
    report_dir: Path,
    node_access: str,
) -> ExperimentResult:
    """Validate and run ``path``; write the journal; roll back the ledger.

    Raises:
        InvalidScenario: the file is invalid.
    """
    experiment = load_experiment_file(path)
    report_dir.mkdir(parents=True, exist_ok=True)
    ledger = FaultLedger(run_id)
    _context.register_ledger(ledger)
    restore_signals = install_signal_handlers(ledger)
    journal: dict[str, Any] = {}
    try:
        with (
            _environment(_env_for(target, run_id, node_access)),
            _logging_to(report_dir / "experiment.log"),
        ):
            journal = run_experiment(experiment)
    finally:
        try:
            failures = ledger.rollback_all()
        finally:
            restore_signals()
        journal_path = report_dir / "journal.json"
        journal_path.write_text(
            json.dumps(journal, indent=2, default=str) + "\n", encoding="utf-8"
        )
    undone = tuple(f"{f.entry.description}: {f.error}" for f in failures)
    verdict, reasons = judge(journal)
    if undone:
        verdict = "failed"
        reasons = (*reasons, *(f"rollback failed: {u}" for u in undone))
    return ExperimentResult(run_id, verdict, reasons, journal_path, undone)


def judge(journal: Mapping[str, Any]) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict of a chaoslib journal, with the reasons for a failure."""
    if not journal.get("status"):
        return "failed", ("the experiment did not run to an end",)
    if journal.get("status") == "interrupted":
        return "interrupted", ("the run was interrupted",)
    reasons: list[str] = []
    experiment = journal.get("experiment") or {}
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    states = journal.get("steady_states") or {}
    before = states.get("before")
    if hypothesis.get("probes"):
        if not before or not before.get("steady_state_met"):
            reasons.append(
                "steady state not met before the method (method skipped): "
                + _failed_probes(before)
            )
        elif journal.get("deviated"):
            reasons.append(
                "steady state deviated after the method: "
                + _failed_probes(states.get("after"))
            )
    if journal.get("status") in ("failed", "aborted"):
        reasons.append(f"experiment {journal['status']}")
    for label, runs in (
        ("method", journal.get("run")),
        ("rollback", journal.get("rollbacks")),
    ):
        for run in runs or []:
            if run.get("status") == "failed":
                name = (run.get("activity") or {}).get("name", "?")
                raw = run.get("exception") or ""
                text = "".join(raw) if isinstance(raw, list) else str(raw)
                error = text.strip().splitlines()
                detail = error[-1] if error else "failed"
                reasons.append(f"{label} activity {name}: {detail}")
    return ("failed" if reasons else "passed"), tuple(reasons)


def _failed_probes(state: Mapping[str, Any] | None) -> str:
    if not state:
        return "not evaluated"
    names = [
        str((p.get("activity") or {}).get("name", "?"))
        for p in state.get("probes") or []
        if not p.get("tolerance_met", True) or p.get("status") == "failed"
    ]
    return ", ".join(names) or "see the journal"


def _env_for(
    target: ClusterTarget, run_id: str, node_access: str
) -> dict[str, str]:
    env = {
        RUN_ID_ENV: run_id,
        "KUBE_GAUNTLET_NODE_ACCESS": node_access,
    }
    if target.in_cluster:
        env["CHAOSTOOLKIT_IN_POD"] = "true"
        return env
    env["KUBE_GAUNTLET_KUBECONFIG"] = str(target.kubeconfig_path)
    env["KUBECONFIG"] = str(target.kubeconfig_path)  # chaosk8s reads this
    if target.context:
        env["KUBE_GAUNTLET_CONTEXT"] = target.context
        env["KUBERNETES_CONTEXT"] = target.context
    return env


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the run (chaosk8s reads only the environment).

    The kubernetes client reads ``$KUBECONFIG`` once, at import, into the
    default that chaosk8s's ``load_kube_config()`` uses: set it too.
    """
    saved = {key: os.environ.get(key) for key in values}
    default = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    os.environ.update(values)
    if "KUBECONFIG" in values:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = values["KUBECONFIG"]
    try:
        yield
    finally:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = default
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """chaoslib's log to the report and to stderr, for this run only."""
    logger = logging.getLogger(LOGGER)
    handlers: list[logging.Handler] = [
        logging.FileHandler(path, encoding="utf-8"),
        logging.StreamHandler(),
    ]
    fmt = logging.Formatter("[%(asctime)s %(levelname)s] %(message)s")
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(old_level)
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


@contextlib.contextmanager
def _quiet_chaoslib() -> Iterator[None]:
    logger = logging.getLogger(LOGGER)
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)
