"""On a cluster that refuses writes, read-only checks run and the rest
are marked not run with the API's reason, said once (issue 10, defect 11).

Runs the project's root conftest.py with pytester on a fake cluster whose
API answers every write with a 500, as with an etcd alarm.
"""

import json
from pathlib import Path

import pytest

import gauntlet

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"
NOSPACE = "etcdserver: mvcc: database space exceeded"

FAKE_CLUSTER = f'''
import json
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import ClusterTarget


class RefusingCore:
    """Every write answered with 500, as with an etcd NOSPACE alarm."""

    def __init__(self):
        self.writes = []

    def create_namespace(self, body):
        self.writes.append(body.metadata.name)
        exc = ApiException(status=500, reason="Internal Server Error")
        exc.body = json.dumps({{"kind": "Status", "message": "{NOSPACE}"}})
        raise exc

    def delete_namespace(self, name):
        raise ApiException(status=404, reason="Not Found")


class FakeCluster:
    cluster_name = "fake"
    target = ClusterTarget(Path("/nonexistent/kubeconfig"), "fake")

    def __init__(self):
        self._core = RefusingCore()

    def core(self):
        return self._core


@pytest.fixture(scope="session")
def cluster():
    return FakeCluster()


@pytest.fixture(scope="session")
def topology():
    return None


@pytest.fixture(scope="session")
def node_access():
    return None, "no node access in this test"


@pytest.fixture(scope="session")
def probe_namespace():
    return "kg-probes-fake"
'''

CHECKS = """
import pytest


@pytest.mark.guarantee("ARCH-05")
@pytest.mark.readonly
def test_reads_only(check):
    assert check.namespace == ""


@pytest.mark.guarantee("ARCH-08")
def test_writes(check):
    raise AssertionError("ran on a cluster that refuses writes")


@pytest.mark.guarantee("ARCH-09")
def test_writes_in_its_namespace(test_namespace):
    raise AssertionError("ran on a cluster that refuses writes")


def test_the_cluster_was_probed_once(cluster):
    assert len(cluster.core().writes) == 1
"""


@pytest.fixture
def refused_run(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(Path(gauntlet.__file__).parents[1]))
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    checks = pytester.mkpydir("checks")
    (checks / "conftest.py").write_text(FAKE_CLUSTER)
    (checks / "test_checks.py").write_text(CHECKS)
    summary = pytester.path / "summary.json"
    result = pytester.runpytest_subprocess(
        "-p",
        "gauntlet.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "-rs",
        "--gauntlet-summary",
        str(summary),
    )
    return result, json.loads(summary.read_text())


def test_a_refused_write_skips_writing_tests_and_runs_readonly_ones(
    refused_run,
):
    result, _ = refused_run
    result.assert_outcomes(passed=2, skipped=2)
    # the checks that ran passed, but the others could not: the run fails
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = f"not run: the cluster refuses writes: {NOSPACE}"
    result.stdout.fnmatch_lines([f"SKIPPED *test_checks.py:*: {reason}"] * 2)


def test_the_refusal_is_said_once_naming_the_write_and_the_reason(
    refused_run,
):
    result, _ = refused_run
    said = [
        line
        for line in result.stdout.lines
        if line.startswith("[gauntlet] the cluster refuses writes")
    ]
    assert len(said) == 1, result.stdout.str()
    assert "create namespace kg-probe-" in said[0]
    assert f"500 {NOSPACE}" in said[0]
    assert "Traceback" not in result.stdout.str()


def test_the_summary_names_the_refusal_as_why_guarantees_were_not_run(
    refused_run,
):
    _, summary = refused_run
    verdicts = {
        g["guarantee"]: (g["verdict"], g["message"])
        for g in summary["guarantees"]
    }
    assert verdicts["ARCH-05"][0] == "pass"
    for gid in ("ARCH-08", "ARCH-09"):
        verdict, message = verdicts[gid]
        assert verdict == "skip"
        assert message.startswith("not run: the cluster refuses writes")
        assert NOSPACE in message
