"""The per-context history: one JSON line per run, appended safely and
read back tolerantly."""

import json
import multiprocessing
from pathlib import Path

import pytest
from history_fixtures import run_id, summary

import gauntlet
from gauntlet.errors import GauntletError, UsageError
from gauntlet.reporting.history import (
    append_run,
    context_of,
    history_file,
    read_history,
    record_of,
)
from gauntlet.wellknown import LAB_NAME

pytest_plugins = ["pytester"]

VALUES = {
    "ARCH-08": [("deleted pod replaced", 1.5, "s", 30.0)],
    "RES-04": [("failed writes", None, "", None)],
}


def test_a_run_becomes_one_line_with_verdicts_and_measurements(tmp_path):
    run = summary(1, VALUES, verdicts={"RES-04": "fail"}, context="prod")

    path = append_run(tmp_path, record_of(run))

    assert path == tmp_path / "history" / "prod.jsonl"
    (line,) = path.read_text().splitlines()
    data = json.loads(line)
    assert data["run_id"] == run_id(1)
    assert data["context"] == "prod" and data["profile"] == "gate"
    assert data["started"] == data["ended"] == run.started
    guarantees = {g["guarantee"]: g for g in data["guarantees"]}
    assert guarantees["ARCH-08"]["verdict"] == "pass"
    assert guarantees["ARCH-08"]["measurements"] == [
        {"name": "deleted pod replaced", "value": 1.5, "unit": "s", "bound": 30}
    ]
    assert guarantees["RES-04"]["verdict"] == "fail"
    assert guarantees["RES-04"]["measurements"][0]["value"] is None


def test_runs_read_back_oldest_first(tmp_path):
    for n in (1, 2, 3):
        append_run(tmp_path, record_of(summary(n, VALUES, context="prod")))

    read = read_history(history_file(tmp_path, "prod"))

    assert [r.run_id for r in read.runs] == [run_id(n) for n in (1, 2, 3)]
    assert read.warnings == ()
    assert read.runs[0] == record_of(summary(1, VALUES, context="prod"))


@pytest.mark.parametrize(
    ("context", "name"),
    [
        ("kubernetes-admin@kubernetes", "kubernetes-admin_kubernetes.jsonl"),
        ("arn:aws:eks:eu/prod", "arn_aws_eks_eu_prod.jsonl"),
        ("../../etc", "_.._etc.jsonl"),
        (LAB_NAME, f"{LAB_NAME}.jsonl"),
    ],
)
def test_the_context_is_made_safe_as_a_file_name(tmp_path, context, name):
    path = history_file(tmp_path, context)
    assert path.parent == tmp_path / "history"
    assert path.name == name


def test_contexts_that_share_a_file_name_stay_apart(tmp_path):
    append_run(tmp_path, record_of(summary(1, context="a@b")))
    append_run(tmp_path, record_of(summary(2, context="a_b")))
    path = history_file(tmp_path, "a@b")
    assert path == history_file(tmp_path, "a_b")

    assert [r.run_id for r in read_history(path, "a@b").runs] == [run_id(1)]
    assert [r.run_id for r in read_history(path, "a_b").runs] == [run_id(2)]


def test_a_run_without_a_context_belongs_to_the_lab_or_the_environment():
    bare = summary(1, context=None)
    assert context_of(bare, {}) == LAB_NAME
    assert context_of(bare, {"KUBE_GAUNTLET_CONTEXT": "prod"}) == "prod"
    named = summary(1, context="kind-lab")
    assert context_of(named, {"KUBE_GAUNTLET_CONTEXT": "prod"}) == "kind-lab"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("{not json", "not a run"),
        ('{"schema": 99}', "schema 99"),
        ('{"schema": 1, "run_id": "x"}', "KeyError"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_a_corrupt_line_is_named_and_skipped(tmp_path, bad, reason):
    append_run(tmp_path, record_of(summary(1, VALUES, context="prod")))
    path = history_file(tmp_path, "prod")
    with path.open("a") as handle:
        handle.write(bad + "\n")
    append_run(tmp_path, record_of(summary(2, VALUES, context="prod")))

    read = read_history(path)

    assert [r.run_id for r in read.runs] == [run_id(1), run_id(2)]
    (warning,) = read.warnings
    assert warning.startswith(f"{path}:2: skipped")
    assert reason in warning


def test_bad_values_in_a_line_are_named(tmp_path):
    record = record_of(summary(1, VALUES, context="prod")).to_dict()
    record["guarantees"][0]["measurements"][0]["value"] = "fast"
    record["guarantees"][1]["verdict"] = "maybe"
    path = history_file(tmp_path, "prod")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record) + "\n")

    (warning,) = read_history(path).warnings

    assert "expected a number or null, got 'fast'" in warning


def test_a_line_cut_short_by_a_crash_damages_only_itself(tmp_path):
    path = history_file(tmp_path, "prod")
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": 1, "run_id": "2026')  # no newline: torn

    append_run(tmp_path, record_of(summary(2, VALUES, context="prod")))

    read = read_history(path)
    assert [r.run_id for r in read.runs] == [run_id(2)]
    assert [w.split(": ")[0] for w in read.warnings] == [f"{path}:1"]


def _append_many(reports: str, start: int) -> None:
    for n in range(start, start + 25):
        append_run(Path(reports), record_of(summary(n, VALUES, context="p")))


def test_concurrent_runs_never_interleave_their_lines(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_append_many, args=(str(tmp_path), 25 * i))
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0

    read = read_history(history_file(tmp_path, "p"))

    assert read.warnings == ()
    assert sorted(r.run_id for r in read.runs) == sorted(
        run_id(n) for n in range(100)
    )


def test_a_missing_history_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no history at .*nowhere.jsonl"):
        read_history(tmp_path / "nowhere.jsonl")


def test_an_unwritable_history_raises_with_the_path(tmp_path):
    (tmp_path / "history").write_text("a file where the directory goes")
    with pytest.raises(GauntletError, match=f"appending run {run_id(1)} to"):
        append_run(tmp_path, record_of(summary(1)))


def test_the_plugin_appends_the_run_beside_its_directory(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(Path(gauntlet.__file__).parents[1]))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.guarantee("ARCH-08")
        def test_a(measure):
            measure("deleted pod replaced", 1.25, "s", bound=30)
        """
    )
    reports = pytester.path / "reports"
    pytester.runpytest(
        "-p",
        "gauntlet.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "--gauntlet-summary",
        str(reports / "r1" / "summary.json"),
        "--gauntlet-run-id",
        "r1",
        "--gauntlet-context",
        "kubernetes-admin@prod",
        "--gauntlet-profile",
        "gate",
    ).assert_outcomes(passed=1)

    path = reports / "history" / "kubernetes-admin_prod.jsonl"
    (run,) = read_history(path, "kubernetes-admin@prod").runs
    assert run.run_id == "r1" and run.profile == "gate"
    (guarantee,) = run.guarantees
    assert guarantee.verdict == "pass"
    assert [(m.name, m.value, m.bound) for m in guarantee.measurements] == [
        ("deleted pod replaced", 1.25, 30.0)
    ]
