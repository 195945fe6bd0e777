"""What the HTML report adds to allure's: its history and the trend."""

import json

from history_fixtures import run_id, summary, write_run

from gauntlet.reporting.history import append_run, record_of
from gauntlet.reporting.html import _config
from gauntlet.reporting.html_extras import TREND_PAGE, ReportExtras, extras_for


def keep(reports, *values, context="kind-lab"):
    dirs = []
    for n, value in enumerate(values, start=1):
        run = summary(
            n,
            {"ARCH-08": [("deleted pod replaced", value, "s", 30.0)]},
            context=context,
        )
        dirs.append(write_run(reports, run))
        append_run(reports, record_of(run))
    return dirs


def test_a_run_gets_its_contexts_allure_history_and_a_trend_page(tmp_path):
    *_, third, _fourth = keep(tmp_path, 1.5, 1.6, 12.0, 1.0, context="a@b")

    extras = extras_for(third)

    assert (
        extras.allure_history == tmp_path / "history" / "allure" / "a_b.jsonl"
    )
    assert extras.attachments == (third / TREND_PAGE,)
    assert extras.warnings == ()
    page = (third / TREND_PAGE).read_text()
    assert "Trend of a@b, profile gate" in page
    assert '<tr class="regression">' in page  # 12 s against 1.55 s
    assert run_id(3) in page and run_id(4) not in page  # up to this run


def test_without_a_summary_the_report_has_neither(tmp_path):
    run_dir = tmp_path / run_id(1)
    run_dir.mkdir()
    extras = extras_for(run_dir)
    assert extras.allure_history is None and extras.attachments == ()
    (warning,) = extras.warnings
    assert warning.startswith("no history or trend: run ")


def test_without_a_history_allure_still_keeps_its_own(tmp_path):
    run_dir = write_run(tmp_path, summary(1, context="kind-lab"))
    extras = extras_for(run_dir)
    assert extras.allure_history is not None
    assert extras.attachments == ()
    assert extras.warnings[0].startswith("no trend: no history at")


def test_the_allure_config_carries_history_and_the_trend_page(tmp_path):
    extras = ReportExtras(
        tmp_path / "history" / "allure" / "lab.jsonl",
        (tmp_path / "r1" / TREND_PAGE,),
    )
    text = _config(tmp_path / "html", True, extras)
    config = json.loads(text.removeprefix("export default ").rstrip(";\n"))
    assert config["historyPath"] == str(extras.allure_history)
    assert config["historyLimit"] > 0
    assert config["globalAttachments"] == [str(tmp_path / "r1" / TREND_PAGE)]
    assert config["plugins"]["awesome"]["options"]["singleFile"] is True


def test_no_extras_leave_the_config_as_it_was(tmp_path):
    text = _config(tmp_path / "html", False, ReportExtras())
    config = json.loads(text.removeprefix("export default ").rstrip(";\n"))
    assert config == {"name": "kube-gauntlet", "output": str(tmp_path / "html")}
