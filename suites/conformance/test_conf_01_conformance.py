"""CONF-01: the cluster passes the upstream conformance specs of its
version."""

from pathlib import Path

import pytest

from gauntlet.checks.conformance.specs import check_conformance
from gauntlet.project import reports_root

pytestmark = [pytest.mark.profile("conformance")]


@pytest.fixture
def conformance_dir(request: pytest.FixtureRequest, run_id: str) -> Path:
    """Where ginkgo's own reports are kept: beside the run's allure
    results, else under reports/ when pytest runs by hand."""
    alluredir = request.config.getoption("allure_report_dir", None)
    root = Path(alluredir).parent if alluredir else reports_root() / run_id
    return root / "conformance"


@pytest.mark.guarantee("CONF-01")
@pytest.mark.timeout(0)
def test_every_conformance_spec_that_runs_passes(
    check, conformance_dir, request, say_now
):
    """Guarantee: the Kubernetes project's own [Conformance] specs of the
    server's release, chosen by mode (quick, non-disruptive, certified),
    MUST all pass; a spec not run is listed with its reason, and a run in
    which no spec ran proves nothing."""
    alluredir = request.config.getoption("allure_report_dir", None)
    check_conformance(
        check,
        conformance_dir,
        Path(alluredir) if alluredir else None,
        say_now,
    )
