"""The pytest plugin, exercised on throwaway test files with pytester."""

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

import gauntlet

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "gauntlet.pytest_plugin", "-p", "no:cacheprovider")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    # Load the plugin only through -p, whether or not it is pip-installed.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(Path(gauntlet.__file__).parents[1]))


def run(pytester, *args):
    return pytester.runpytest(*PLUGIN, *args)


def summary_json(pytester, *args):
    path = pytester.path / "out" / "summary.json"
    result = run(pytester, "--gauntlet-summary", str(path), *args)
    return result, json.loads(path.read_text())


def by_id(data):
    return {g["guarantee"]: g for g in data["guarantees"]}


def test_unknown_guarantee_id_is_a_collection_error(pytester):
    pytester.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.guarantee("ARCH-99")
        def test_replaces_pods():
            pass

        @pytest.mark.guarantee("ARCH-08")
        def test_fine():
            pass
        """
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_typo.py*",
            "test_typo.py::test_replaces_pods: unknown guarantee ID 'ARCH-99';"
            " did you mean ARCH-09*",
            "*1 error*",
        ]
    )
    result.assert_outcomes(errors=1)


def test_bad_profile_and_marker_arguments_fail_collection(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.profile("chaos")
        def test_a():
            pass

        @pytest.mark.guarantee("ARCH-01", "ARCH-02")
        def test_b():
            pass
        """
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*::test_a: profile marker takes one of gate, gameday, "
            "preupgrade, postupgrade, load, conformance, got ('chaos',)",
            "*::test_b: guarantee marker takes exactly one ID*",
        ]
    )


def test_markers_are_registered_for_strict_markers(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.guarantee("RES-01")
        @pytest.mark.profile("gameday")
        @pytest.mark.disruptive
        @pytest.mark.serial
        @pytest.mark.slow
        @pytest.mark.lab_only
        def test_a():
            pass
        """
    )
    run(pytester, "--strict-markers").assert_outcomes(passed=1)


def test_verdicts_and_table(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("no kubeconfig")

        @pytest.mark.guarantee("ARCH-08")
        def test_pass():
            pass

        @pytest.mark.guarantee("ARCH-04")
        def test_fail():
            assert False, "node cp-1 runs 2 application pods"

        @pytest.mark.guarantee("ARCH-04")
        def test_other_pass():
            pass

        @pytest.mark.guarantee("ARCH-13")
        def test_skip():
            pytest.skip("managed control plane hides etcd")

        @pytest.mark.guarantee("ARCH-12")
        def test_error(broken):
            pass

        def test_without_guarantee():
            pass
        """
    )
    result, data = summary_json(
        pytester, "--gauntlet-context", "kind-lab", "--gauntlet-run-id", "r1"
    )
    result.assert_outcomes(passed=3, failed=1, skipped=1, errors=1)
    verdicts = {gid: g["verdict"] for gid, g in by_id(data).items()}
    assert verdicts == {
        "ARCH-04": "fail",
        "ARCH-08": "pass",
        "ARCH-12": "error",
        "ARCH-13": "skip",
    }
    assert list(verdicts) == ["ARCH-04", "ARCH-08", "ARCH-12", "ARCH-13"]
    results = by_id(data)
    assert results["ARCH-04"]["message"] == (
        "test_fail: AssertionError: node cp-1 runs 2 application pods"
    )
    assert results["ARCH-04"]["tests"] == [
        "test_verdicts_and_table.py::test_fail",
        "test_verdicts_and_table.py::test_other_pass",
    ]
    assert results["ARCH-13"]["message"] == "managed control plane hides etcd"
    assert results["ARCH-12"]["message"] == (
        "setup: RuntimeError: no kubeconfig"
    )
    assert data["run_id"] == "r1"
    assert data["context"] == "kind-lab"
    assert data["totals"] == {"pass": 1, "fail": 1, "skip": 1, "error": 1}
    result.stdout.fnmatch_lines(
        [
            "*= guarantees =*",
            "kube-gauntlet run r1 on kind-lab",
            "GUARANTEE  VERDICT  PARTS MEASUREMENTS*MESSAGE",
            "ARCH-04    FAIL  * test_fail: AssertionError: node cp-1*",
            "ARCH-13    SKIP  * managed control plane hides etcd",
            "4 guarantees: 1 pass, 1 fail, 1 skip, 1 error",
        ]
    )


def test_teardown_error_after_a_pass_is_an_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def leaky():
            yield
            raise RuntimeError("namespace stuck terminating")

        @pytest.mark.guarantee("ARCH-10")
        def test_a(leaky):
            pass
        """
    )
    _, data = summary_json(pytester)
    result = by_id(data)["ARCH-10"]
    assert result["verdict"] == "error"
    assert result["message"] == (
        "teardown: RuntimeError: namespace stuck terminating"
    )


def test_measurements_reach_summary_json(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.guarantee("ARCH-06")
        def test_startup(measure):
            measure("pod_startup_p99", 1.5, "s", bound=5)
            with measure.timer("create_pods", bound=60):
                pass

        @pytest.mark.guarantee("RES-04")
        def test_failing_timer(measure):
            with measure.timer("election"):
                raise TimeoutError("no leader")
        """
    )
    result, data = summary_json(pytester)
    result.assert_outcomes(passed=1, failed=1)
    startup = by_id(data)["ARCH-06"]["measurements"]
    assert [m["name"] for m in startup] == ["pod_startup_p99", "create_pods"]
    assert startup[0]["value"] == 1.5
    assert startup[0]["bound"] == 5.0
    assert startup[0]["guarantee"] == "ARCH-06"
    assert startup[1]["unit"] == "s" and startup[1]["status"] == "ok"
    (election,) = by_id(data)["RES-04"]["measurements"]
    assert election["status"] == "failed"
    assert election["value"] is None
    assert election["error"] == "TimeoutError: no leader"
    result.stdout.fnmatch_lines(["ARCH-06 * pod_startup_p99=1.5 s (limit 5)*"])


def test_junit_xml_carries_guarantee_and_measurements(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.guarantee("ARCH-08")
        def test_a(measure):
            measure("replace_s", 2.0, "s")

        @pytest.mark.guarantee("ARCH-09")
        @pytest.mark.skip(reason="single node")
        def test_b():
            pass
        """
    )
    run(pytester, "--junitxml=junit.xml", "-o", "junit_family=xunit1")
    tree = ElementTree.parse(pytester.path / "junit.xml")
    props = {
        case.get("name"): {
            p.get("name"): p.get("value") for p in case.iter("property")
        }
        for case in tree.iter("testcase")
    }
    assert props["test_a"]["guarantee"] == "ARCH-08"
    assert json.loads(props["test_a"]["measurement:replace_s"])["value"] == 2
    assert props["test_b"] == {"guarantee": "ARCH-09"}


def test_no_summary_without_the_option(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.guarantee("ARCH-08")
        def test_a():
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "guarantees" not in result.stdout.str()
    assert not (pytester.path / "out").exists()


def test_allure_results_carry_guarantee_label_and_measurement(pytester):
    pytester.makepyfile(
        """
        import pytest
        from gauntlet.reporting import attach

        @pytest.mark.guarantee("ARCH-08")
        def test_a(measure):
            with attach.step("delete a pod"):
                measure("replace_s", 2.0, "s")
            attach.attach_text("events", "pod replaced")

        @pytest.mark.guarantee("RES-01")
        @pytest.mark.skip(reason="no node access")
        def test_b():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        *PLUGIN, "-p", "allure_pytest.plugin", "--alluredir", "allure"
    )
    result.assert_outcomes(passed=1, skipped=1)
    results = {}
    for path in (pytester.path / "allure").glob("*-result.json"):
        data = json.loads(path.read_text())
        results[data["name"]] = data
    labels = {
        name: {(lb["name"], lb["value"]) for lb in data["labels"]}
        for name, data in results.items()
    }
    assert {("guarantee", "ARCH-08"), ("tag", "ARCH-08")} <= labels["test_a"]
    assert ("profile", "gate") in labels["test_a"]
    assert {("guarantee", "RES-01"), ("tag", "RES-01")} <= labels["test_b"]
    step = results["test_a"]["steps"][0]
    assert step["name"] == "delete a pod"
    assert step["attachments"][0]["name"] == "measurement: replace_s"
    assert [a["name"] for a in results["test_a"]["attachments"]] == ["events"]


def test_attach_helpers_are_no_ops_without_allure(pytester):
    pytester.makepyfile(
        """
        from gauntlet.reporting import attach

        def test_a():
            with attach.step("outside allure"):
                attach.attach_json("obj", {"a": 1})
                attach.attach_text("txt", "hello")
                attach.label("guarantee", "ARCH-01")
                attach.tag("ARCH-01")
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_refused_credentials_stop_the_run_with_the_reason(pytester):
    pytester.makepyfile(
        """
        import pytest
        from gauntlet.errors import CredentialsRefused

        @pytest.mark.guarantee("LOAD-01")
        def test_load():
            raise CredentialsRefused("load: unauthorized (401): Unauthorized")

        @pytest.mark.guarantee("ARCH-08")
        def test_after():
            pass
        """
    )
    stop = pytester.path / "out" / "stopped.txt"

    result = run(pytester, "--gauntlet-stop-reason", str(stop))

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert stop.read_text() == "load: unauthorized (401): Unauthorized\n"
    result.assert_outcomes()  # test_after never ran
    assert "Traceback" not in result.stderr.str()


def test_refused_credentials_outside_a_guarantee_test_are_a_failure(pytester):
    pytester.makepyfile(
        """
        from gauntlet.errors import CredentialsRefused

        def test_lab_helper():
            raise CredentialsRefused("load: forbidden (403): no")

        def test_after():
            pass
        """
    )
    stop = pytester.path / "stopped.txt"

    result = run(pytester, "--gauntlet-stop-reason", str(stop))

    result.assert_outcomes(failed=1, passed=1)
    assert not stop.exists()
