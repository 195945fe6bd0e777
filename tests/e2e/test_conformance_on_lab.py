"""`gauntlet run --profile conformance --mode quick` on the lab: the
upstream specs pass, each is an entry of the report grouped by SIG, and
ginkgo's own reports are kept."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from e2e_cli import gauntlet, summary_of

from gauntlet import progress
from gauntlet.conformance import images
from gauntlet.conformance.binary import ensure_e2e
from gauntlet.conformance.modes import QUICK_SPECS, selection
from gauntlet.conformance.runner import RunRequest, list_specs
from gauntlet.lab.spec_images import LAB_SPEC_DIFFERENCES
from gauntlet.lab.versions import CURRENT


def test_quick_conformance_passes_on_the_lab_with_a_report_by_sig(lab):
    start = time.monotonic()
    proc = gauntlet(
        "run", "--profile", "conformance", "--mode", "quick", "--procs", "2"
    )
    took = time.monotonic() - start
    progress.say(f"quick conformance on the lab: {took:.0f} s")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "conformance: 9/9 specs done, 0 failed" in proc.stdout + proc.stderr

    summary = summary_of(proc)
    (entry,) = summary["guarantees"]
    assert entry["guarantee"] == "CONF-01" and entry["verdict"] == "pass"
    measured = {m["name"]: m["value"] for m in entry["measurements"]}
    assert measured["specs run"] == len(QUICK_SPECS)
    assert measured["specs passed"] == len(QUICK_SPECS)
    sigs = {p["name"].split(":")[0] for p in entry["parts"]} - {"suite set-up"}
    assert {"sig-node", "sig-network", "sig-api-machinery"} <= sigs

    run_dir = Path(summary_of(proc)["run_id"]).name
    root = Path("reports") / run_dir
    kept = root / "conformance"
    assert (kept / "junit.xml").is_file() and (kept / "report.json").is_file()
    specs = [
        json.loads(p.read_text())
        for p in (root / "allure-results").glob("*-result.json")
    ]
    by_sig = {
        lab_["value"]
        for s in specs
        for lab_ in s["labels"]
        if lab_["name"] == "suite" and lab_["value"].startswith("sig-")
    }
    spec_entries = [s for s in specs if s["name"].startswith("[sig-")]
    assert len(spec_entries) == len(QUICK_SPECS)
    assert all(s["status"] == "passed" for s in spec_entries)
    assert sigs <= by_sig


@pytest.mark.full_matrix(ci="the quick conformance run")
@pytest.mark.timeout(4 * 3600)
def test_every_non_disruptive_spec_the_lab_can_run_passes(lab):
    """The README's pass count: every non-disruptive spec whose images
    the lab has (all but the ones the data table names) passes."""
    proc = gauntlet(
        "run", "--profile", "conformance", "--procs", "4", timeout=4 * 3600
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    (entry,) = summary_of(proc)["guarantees"]
    measured = {m["name"]: m["value"] for m in entry["measurements"]}
    progress.say(
        "non-disruptive conformance on the lab: "
        f"{measured['specs passed']:.0f} of {measured['specs selected']:.0f} "
        f"passed, {measured['specs not run (set aside)']:.0f} not "
        f"run, in {measured['run time'] / 60:.0f} min"
    )
    not_run = (
        len(images.spec_images())
        + len(images.always_pulling())
        + len(LAB_SPEC_DIFFERENCES)
    )
    assert measured["specs not run (set aside)"] == not_run
    assert measured["specs passed"] == measured["specs selected"] - not_run


def test_the_image_table_names_specs_of_the_pinned_release(tmp_path):
    """A spec renamed upstream would silently run (and time out on the
    lab) instead of being set aside: every name in the table must be a
    [Conformance] spec of the release the lab runs."""
    tools = ensure_e2e(CURRENT.kubernetes)
    request = RunRequest(
        tools=tools,
        kubeconfig=None,
        context=None,
        selection=selection("certified"),
        skip=(),
        out_dir=tmp_path,
    )
    names = {spec.name for spec in list_specs(request)}
    tabled = set(images.spec_images()) | images.always_pulling()
    assert tabled and tabled <= names, sorted(tabled - names)
