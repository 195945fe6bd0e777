"""Each spec as its own entry in the run's allure report, grouped by SIG.

The guarantee test (CONF-01) is one entry; the specs it ran are written
beside it as allure results of their own (suite: the SIG), so the report
shows "sig-network: 58 passed, 1 failed" next to the architecture
guarantees. Specs set aside are entries too, skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import Label, Status, StatusDetails, TestResult

from gauntlet.conformance.images import SetAside
from gauntlet.conformance.specs import Spec, SpecResult

__all__ = ["PARENT_SUITE", "write_allure_results"]

PARENT_SUITE = "CONF: upstream conformance specs"
_STATUS = {
    "passed": Status.PASSED,
    "failed": Status.FAILED,
    "panicked": Status.BROKEN,
    "timedout": Status.BROKEN,
    "interrupted": Status.BROKEN,
    "aborted": Status.BROKEN,
}


def _millis(stamp: str) -> int | None:
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(when.timestamp() * 1000) if when.year > 1 else None


def _labels(spec: Spec, mode: str) -> list[Label]:
    return [
        Label(name="parentSuite", value=PARENT_SUITE),
        Label(name="suite", value=spec.sig),
        Label(name="guarantee", value="CONF-01"),
        Label(name="profile", value="conformance"),
        Label(name="tag", value=f"conformance-{mode}"),
        *(Label(name="tag", value=label) for label in spec.labels),
    ]


def _result(spec: Spec, mode: str) -> TestResult:
    history = hashlib.sha256(spec.name.encode()).hexdigest()
    return TestResult(
        uuid=str(uuid.uuid4()),
        historyId=history,
        testCaseId=history,
        name=spec.name,
        fullName=f"conformance::{spec.name}",
        labels=_labels(spec, mode),
    )


def write_allure_results(
    results_dir: Path,
    ran: Iterable[SpecResult],
    set_aside: Iterable[SetAside],
    mode: str,
) -> int:
    """Write one allure result per spec; return how many were written."""
    logger = AllureFileLogger(str(results_dir))  # type: ignore[no-untyped-call]
    written = 0
    for outcome in ran:
        result = _result(outcome.spec, mode)
        result.status = _STATUS.get(outcome.state, Status.SKIPPED)
        result.start = _millis(outcome.start)
        result.stop = _millis(outcome.end)
        if not outcome.passed:
            result.statusDetails = StatusDetails(
                message=outcome.message or f"ginkgo state: {outcome.state}",
                trace=outcome.location or None,
            )
        logger.report_result(result)  # type: ignore[no-untyped-call]
        written += 1
    for aside in set_aside:
        result = _result(aside.spec, mode)
        result.status = Status.SKIPPED
        result.statusDetails = StatusDetails(message=f"not run: {aside.reason}")
        logger.report_result(result)  # type: ignore[no-untyped-call]
        written += 1
    return written
