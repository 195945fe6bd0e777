"""The load profile on the 3+2 lab: LOAD-01..03 pass, and each attaches
its plots (SVG, drawn from the load's own per-second request log) to the
allure report, next to the SLO verdicts per request class."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_cli import gauntlet, summary_of

pytestmark = pytest.mark.lab_only

LOAD = ("LOAD-01", "LOAD-02", "LOAD-03")


def _attachments(step: dict) -> Iterator[dict]:
    """Every attachment of an allure result or step, steps included."""
    yield from step.get("attachments", [])
    for child in step.get("steps", []):
        yield from _attachments(child)


def _guarantee(result: dict) -> str:
    return next(
        (
            lab["value"]
            for lab in result["labels"]
            if lab["name"] == "guarantee"
        ),
        "",
    )


def test_the_load_profile_passes_with_plots_in_the_report(lab):
    proc = gauntlet(
        "run",
        "--profile",
        "load",
        "--allow-destructive",
        "kube-gauntlet-lab",
        env={"KUBE_GAUNTLET_LOAD_SECONDS": "15"},  # CI time; 30 s by default
        timeout=1200,
    )
    out = (proc.stdout + proc.stderr)[-4000:]
    summary = summary_of(proc)
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    assert verdicts == dict.fromkeys(LOAD, "pass"), f"{verdicts}\n{out}"
    assert proc.returncode == 0, out

    load_01 = next(
        g for g in summary["guarantees"] if g["guarantee"] == "LOAD-01"
    )
    names = {m["name"] for m in load_01["measurements"]}
    assert "GET single configmap p99 (client)" in names, sorted(names)
    assert "GET single configmap p99 (server)" in names, sorted(names)

    results = Path("reports") / summary["run_id"] / "allure-results"
    svgs: dict[str, list[str]] = {}
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text())
        for attached in _attachments(result):
            if attached["type"] == "image/svg+xml":
                svgs.setdefault(_guarantee(result), []).append(attached["name"])
    assert set(LOAD) <= set(svgs), svgs
