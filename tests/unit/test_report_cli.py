"""``gauntlet report open|serve|trend|compare`` on made-up report dirs.

Each test gets a project of its own ($KUBE_GAUNTLET_PROJECT: suites/ and
pytest.ini) whose reports/ holds the runs and histories it writes.
"""

import json

import pytest
from history_fixtures import run_id, summary, write_run

from gauntlet.cli.main import main
from gauntlet.reporting.history import append_run, history_file, record_of


@pytest.fixture
def reports(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "suites").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    monkeypatch.setenv("KUBE_GAUNTLET_PROJECT", str(project))
    monkeypatch.delenv("KUBE_GAUNTLET_CONTEXT", raising=False)
    return project / "reports"


def keep(reports, *values, context="kind-lab", profile="gate", start=1):
    """One run per value of ARCH-08 'deleted pod replaced' (bound 30 s):
    its summary.json and its history line."""
    for n, value in enumerate(values, start=start):
        run = summary(
            n,
            {"ARCH-08": [("deleted pod replaced", value, "s", 30.0)]},
            context=context,
            profile=profile,
        )
        write_run(reports, run)
        append_run(reports, record_of(run))


def gauntlet(capsys, *args):
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gauntlet: error: ")
    for word in words:
        assert word in lines[0]


def test_trend_prints_each_series_with_its_bound(reports, capsys):
    keep(reports, 1.5, 1.6, 1.4)
    code, out, err = gauntlet(capsys, "trend")
    assert code == 0 and err == ""
    assert "trend of kind-lab, profile gate: last 3 run(s)" in out
    row = next(line for line in out.splitlines() if "deleted pod" in line)
    assert row.split()[-5:] == ["30", "1.5", "1.6", "1.4", "ok"]


def test_a_regression_is_a_warning_unless_asked_to_fail(reports, capsys):
    keep(reports, 1.5, 1.6, 1.4, 12.0)
    code, out, err = gauntlet(capsys, "trend")
    assert code == 0
    assert "REGRESSION" in out
    assert err.startswith(
        "gauntlet: warning: regression: ARCH-08 deleted pod replaced: 12 s "
        "against median 1.5 s of 3 previous runs"
    )
    code, _, _ = gauntlet(capsys, "trend", "--fail-on-regression")
    assert code == 1


def test_margin_and_last_change_the_judgement(reports, capsys):
    keep(reports, 10.0, 10.0, 10.0, 13.5)  # +35 %, above the 3 s floor
    assert gauntlet(capsys, "trend", "--fail-on-regression")[0] == 1
    assert (
        gauntlet(capsys, "trend", "--margin", "40", "--fail-on-regression")[0]
        == 0
    )
    code, out, _ = gauntlet(
        capsys, "trend", "--last", "2", "--fail-on-regression"
    )
    assert code == 0 and "not enough history" in out


def test_one_run_is_not_enough_history(reports, capsys):
    keep(reports, 1.5)
    code, out, _ = gauntlet(capsys, "trend", "--fail-on-regression")
    assert code == 0
    assert "not enough history" in out


def test_trend_json(reports, capsys):
    keep(reports, 1.5, 1.6, 1.4, 12.0)
    code, out, _ = gauntlet(capsys, "trend", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["context"] == "kind-lab" and data["profile"] == "gate"
    assert data["regressions"] == ["ARCH-08 deleted pod replaced"]
    assert [r["run_id"] for r in data["runs"]] == [
        run_id(n) for n in (1, 2, 3, 4)
    ]


def test_the_default_context_is_the_newest_runs(reports, capsys):
    keep(reports, 1.0, 1.0, context="kubernetes-admin@prod")
    keep(reports, 2.0, context="kind-lab", start=3)
    assert "trend of kind-lab" in gauntlet(capsys, "trend")[1]
    out = gauntlet(capsys, "trend", "--context", "kubernetes-admin@prod")[1]
    assert "trend of kubernetes-admin@prod, profile gate" in out


def test_the_default_profile_is_the_newest_runs(reports, capsys):
    keep(reports, 1.0, 1.0, 1.0, profile="gate")
    keep(reports, 50.0, profile="gameday", start=4)
    out = gauntlet(capsys, "trend")[1]
    assert "profile gameday: last 1 run(s)" in out
    out = gauntlet(capsys, "trend", "--profile", "gate")[1]
    assert "profile gate: last 3 run(s)" in out
    out = gauntlet(capsys, "trend", "--profile", "all")[1]
    assert "trend of kind-lab: last 4 run(s)" in out


def test_a_corrupt_history_line_is_named_and_skipped(reports, capsys):
    keep(reports, 1.5, 1.6)
    path = history_file(reports, "kind-lab")
    with path.open("a") as handle:
        handle.write("{garbage\n")
    keep(reports, 1.4, start=3)
    code, out, err = gauntlet(capsys, "trend")
    assert code == 0
    assert f"gauntlet: warning: {path}:3: skipped, not a run" in err
    assert "last 3 run(s)" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--context", "nope"], ["no history for context nope", "kind-lab"]),
        (["--last", "0"], ["--last 0"]),
        (["--margin", "-5"], ["--margin -5"]),
        (["--profile", "load"], ["no run of profile load"]),
    ],
)
def test_bad_trend_input_is_one_line_and_exit_2(reports, capsys, args, words):
    keep(reports, 1.5)
    code, _, err = gauntlet(capsys, "trend", *args)
    assert_one_line_error(code, err, *words)


def test_no_history_at_all_is_one_line_and_exit_2(reports, capsys):
    code, _, err = gauntlet(capsys, "trend")
    assert_one_line_error(code, err, "no history under")


def test_a_history_of_only_corrupt_lines_is_exit_2(reports, capsys):
    path = history_file(reports, "kind-lab")
    path.parent.mkdir(parents=True)
    path.write_text("{garbage\n")
    code, _, err = gauntlet(capsys, "trend", "--context", "kind-lab")
    assert code == 2
    assert f"{path}:1: skipped" in err
    assert err.strip().splitlines()[-1].startswith("gauntlet: error: no ")


def test_compare_by_id_prefix_latest_and_path(reports, capsys):
    keep(reports, 1.5, 12.0)
    expected = None
    for a, b in (
        (run_id(1), run_id(2)),
        (run_id(1)[:17], "latest"),
        (str(reports / run_id(1)), str(reports / run_id(2) / "summary.json")),
    ):
        code, out, err = gauntlet(capsys, "compare", a, b)
        assert code == 0 and err == ""
        expected = expected or out
        assert out == expected
    assert f"A {run_id(1)}" in expected and f"B {run_id(2)}" in expected
    assert "+10.5 (+700%) worse" in expected


def test_compare_json(reports, capsys):
    keep(reports, 1.5, 12.0)
    code, out, _ = gauntlet(capsys, "compare", run_id(1), run_id(2), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["measurements"][0]["change"] == "+10.5 (+700%) worse"


def test_latest_skips_runs_without_a_summary_and_the_history(reports, capsys):
    keep(reports, 1.5, 12.0)
    (reports / "20261201T235959Z-abcdef").mkdir()  # an experiment
    out = gauntlet(capsys, "compare", run_id(1), "latest")[1]
    assert f"B {run_id(2)}" in out


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("20991231T000000Z-000000", ["no run '20991231T000000Z-000000'"]),
        ("2026", ["matches 2 runs", "give more of the id"]),
        ("history", ["no run 'history'"]),
    ],
)
def test_bad_runs_are_one_line_and_exit_2(reports, capsys, spec, words):
    keep(reports, 1.5, 12.0)
    code, _, err = gauntlet(capsys, "compare", spec, "latest")
    assert_one_line_error(code, err, *words)


def test_a_run_without_or_with_a_broken_summary_is_exit_2(reports, capsys):
    keep(reports, 1.5)
    bare = reports / "20261201T235959Z-abcdef"
    bare.mkdir()
    code, _, err = gauntlet(capsys, "compare", bare.name, run_id(1))
    assert_one_line_error(code, err, "has no summary.json")
    (reports / run_id(1) / "summary.json").write_text('{"run_id": 1}')
    code, _, err = gauntlet(capsys, "compare", run_id(1), run_id(1))
    assert_one_line_error(code, err, "not a kube-gauntlet summary")


def test_open_prints_the_report_of_the_newest_or_named_run(reports, capsys):
    keep(reports, 1.5, 12.0)
    for n in (1, 2):
        html = reports / run_id(n) / "html"
        html.mkdir()
        (html / "index.html").write_text("<html></html>")
    code, out, _ = gauntlet(capsys, "open")
    assert code == 0
    assert out.strip() == str(reports / run_id(2) / "html" / "index.html")
    for args in (["--run", run_id(1)], [run_id(1)[:17]]):
        code, out, _ = gauntlet(capsys, "open", *args)
        assert out.strip() == str(reports / run_id(1) / "html" / "index.html")


def test_open_without_a_report_is_exit_2(reports, capsys):
    keep(reports, 1.5)
    code, _, err = gauntlet(capsys, "open")
    assert_one_line_error(code, err, "has no HTML report")
    code, _, err = gauntlet(capsys, "open", run_id(1), "--run", run_id(2))
    assert_one_line_error(code, err, "two runs named")
