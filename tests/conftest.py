"""Fixtures for the project's own tests that need the lab.

Requesting ``lab`` boots (or reuses) a 3+2 lab; a lab that cannot boot is a
failure, never a skip. Unit tests request none of these and need no lab.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gauntlet.cluster.client import Cluster, ClusterTarget
from gauntlet.cluster.discovery import ClusterTopology
from gauntlet.errors import GauntletError
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.versions import CURRENT
from gauntlet.observe.etcd import EtcdClient
from gauntlet.wellknown import LAB_NAME

LAB_CONTEXT = LAB_NAME
UNIT_TESTS = Path(__file__).parent / "unit"
LAB_RERUNS = 1
"""A lab test that fails is run once more: a real cluster on two shared
cores has timing noise that a unit test has not. The retry shows as
``R`` and in the short summary; failing twice fails the run."""


@pytest.fixture(scope="session")
def lab() -> LabCluster:
    cluster = LabCluster(release=CURRENT)
    try:
        cluster.up(control_planes=3, workers=2)
    except GauntletError as exc:
        pytest.fail(f"lab up: {exc}", pytrace=False)
    return cluster


@pytest.fixture(scope="session")
def target(lab: LabCluster) -> ClusterTarget:
    """Point the suites' ``cluster`` fixture at the lab."""
    return ClusterTarget(lab.paths.kubeconfig, LAB_CONTEXT)


@pytest.fixture(scope="session")
def faults(lab: LabCluster) -> LabNodeAccess:
    return LabNodeAccess(lab)


@pytest.fixture(scope="session")
def etcd(
    cluster: Cluster, topology: ClusterTopology, faults: LabNodeAccess
) -> EtcdClient:
    """The project's etcd client on the lab, through lab node access."""
    return EtcdClient(cluster, topology, faults)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "full_matrix(ci): a further case of a capability CI already "
        "covers once (``ci`` names how); run by `make test-all`, left out "
        "of `make test` (CI)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test outside ``tests/unit`` for one rerun; unit tests
    are deterministic and must pass the first time.

    A test left out of CI (``full_matrix``) must name what covers its
    capability in CI (``full_matrix(ci=...)``): nothing leaves CI
    silently. Runs before ``-m`` deselects it.
    """
    rerun = pytest.mark.flaky(reruns=LAB_RERUNS, reruns_delay=5)
    for item in items:
        if UNIT_TESTS not in item.path.parents:
            item.add_marker(rerun)
        further = item.get_closest_marker("full_matrix")
        if further is not None and not further.kwargs.get("ci"):
            raise pytest.UsageError(
                f"{item.nodeid}: full_matrix without a CI cover; write "
                "@pytest.mark.full_matrix(ci='what runs this capability "
                "in CI')"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (``CI=true``) a test of ours that skips is a failure.

    The suites may skip what a cluster hides; the project's own tests run
    on the lab, where everything is visible, so a skip means lost coverage.
    """
    report = yield
    if report.skipped and os.environ.get("CI") == "true":
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (not allowed): {report.longrepr}"
    return report


_reasons: list[str] = []
"""Why each rerun test failed its first time, printed at the end."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep why a lab test needed its rerun: the rerun plugin prints only
    ``R``, and a CI log shows its tail, where the reasons then are."""
    if report.outcome != "rerun":
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    reason = crash.message if crash is not None else report.longreprtext
    reason = " ".join(reason.split())[:600] or "no failure text"
    _reasons.append(f"{report.nodeid} ({report.when}): {reason}")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter,
) -> None:
    if _reasons:
        terminalreporter.section("why tests were rerun")
        for line in _reasons:
            terminalreporter.write_line(line)


@pytest.fixture
def defer_cleanup() -> Iterator[contextlib.ExitStack]:
    """Register an undo right after each change; run LIFO, also on failure."""
    with contextlib.ExitStack() as stack:
        yield stack
