"""Small runs for the history, trend, compare and report tests.

A run is a RunSummary built from ``{guarantee: [(name, value, unit,
bound), ...]}``; ``write_run`` lays it out as ``gauntlet run`` does:
``reports/<run-id>/summary.json``.
"""

from pathlib import Path

from gauntlet.reporting.measurements import Measurement
from gauntlet.reporting.summary import (
    GuaranteeResult,
    RunSummary,
    write_summary,
)

T0 = "2026-12-01T10:00:00.000Z"


def run_id(n):
    """Sortable, well-formed run ids: ``20261201T1000NNZ-00000N``."""
    return f"20261201T1000{n:02d}Z-{n:06x}"


def measurement(name, value, unit="s", bound=None, gid="ARCH-08"):
    return Measurement(
        name=name,
        value=value,
        unit=unit,
        start=T0,
        end=T0,
        duration_s=0.0,
        status="ok" if value is not None else "failed",
        error=None if value is not None else "boom",
        bound=bound,
        guarantee=gid,
    )


def summary(
    n,
    values=None,
    *,
    verdicts=None,
    context="kind-lab",
    profile="gate",
):
    """Run number ``n``; ``values`` maps a guarantee to its measurements,
    ``verdicts`` a guarantee to its verdict (default pass)."""
    values = values or {}
    verdicts = verdicts or {}
    ids = list(values) + [g for g in verdicts if g not in values]
    results = tuple(
        GuaranteeResult(
            guarantee=gid,
            verdict=verdicts.get(gid, "pass"),
            tests=(f"suites/test_x.py::test_{gid}",),
            measurements=tuple(
                measurement(*item, gid=gid) for item in values.get(gid, ())
            ),
            message="",
        )
        for gid in ids
    )
    return RunSummary(
        run_id=run_id(n),
        context=context,
        profile=profile,
        started=T0,
        ended=T0,
        results=results,
    )


def write_run(reports: Path, run: RunSummary) -> Path:
    """``reports/<run-id>/summary.json``; returns the run directory."""
    directory = reports / run.run_id
    write_summary(run, directory / "summary.json")
    return directory
