"""CONF-01: the cluster passes the upstream conformance specs of its
version."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from gauntlet.checks.conformance.specs import check_conformance
from gauntlet.faults import kinds
from gauntlet.project import reports_root

pytestmark = [pytest.mark.profile("conformance")]
CLOCK_MARGIN = dt.timedelta(seconds=60)


@pytest.fixture
def conformance_dir(request: pytest.FixtureRequest, run_id: str) -> Path:
    """Where ginkgo's own reports are kept: beside the run's allure
    results, else under reports/ when pytest runs by hand."""
    alluredir = request.config.getoption("allure_report_dir", None)
    root = Path(alluredir).parent if alluredir else reports_root() / run_id
    return root / "conformance"


@pytest.fixture
def e2e_namespaces(cluster, ledger) -> Iterator[None]:
    """The specs' namespaces, recorded before they run. Ginkgo deletes
    them itself, also on Ctrl-C, so a run that ends releases the record
    (deleting by label then could hit another conformance run's); after
    a killed run ``gauntlet recover`` deletes what is left."""
    # a minute early: the API server's clock may run behind the runner's
    since = dt.datetime.now(dt.UTC).replace(microsecond=0) - CLOCK_MARGIN
    entry = ledger.record_object(
        f"namespaces of the e2e specs (label {kinds.E2E_NAMESPACE_LABEL}) "
        f"made since {since.isoformat()}",
        kinds.delete_e2e_namespaces(cluster, since.isoformat()),
    )
    yield
    ledger.release(entry, "ginkgo deleted the specs' namespaces itself")


@pytest.mark.guarantee("CONF-01")
@pytest.mark.timeout(0)
@pytest.mark.usefixtures("e2e_namespaces")
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
