"""The run's timelines page: every timeline plot inline, by guarantee."""

import json

from gauntlet.reporting.html_extras import extras_for
from gauntlet.reporting.timelines_page import (
    TIMELINES_PAGE,
    image_attachments,
    timeline_plots,
    write_timelines_page,
)

SVG = (
    '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg><text>RES-01 plot</text></svg>'
)


def results(tmp_path, *, in_fixture: bool):
    """One RES-01 result whose timeline is attached by the test itself
    or by a fixture's teardown (into the result's container)."""
    out = tmp_path / "run" / "allure-results"
    out.mkdir(parents=True)
    (out / "a-attachment.svg").write_text(SVG)
    attachment = {
        "name": "timeline: RES-01: test_x",
        "source": "a-attachment.svg",
        "type": "image/svg+xml",
    }
    result = {
        "uuid": "r1",
        "name": "test_x",
        "status": "passed",
        "start": 1,
        "labels": [{"name": "guarantee", "value": "RES-01"}],
        "attachments": [] if in_fixture else [attachment],
    }
    (out / "r1-result.json").write_text(json.dumps(result))
    if in_fixture:
        container = {
            "children": ["r1"],
            "afters": [{"name": "_timeline::1", "attachments": [attachment]}],
        }
        (out / "c1-container.json").write_text(json.dumps(container))
    return out


def test_a_plot_attached_by_a_fixture_belongs_to_the_test_it_served(tmp_path):
    [plot] = image_attachments(results(tmp_path, in_fixture=True))
    assert (plot.guarantee, plot.test, plot.status) == (
        "RES-01",
        "test_x",
        "passed",
    )


def test_the_page_shows_each_timeline_inline_under_its_guarantee(tmp_path):
    out = results(tmp_path, in_fixture=False)
    page = write_timelines_page(out, tmp_path / TIMELINES_PAGE)
    text = page.read_text()
    assert "RES-01" in text and "PASSED" in text
    assert "<svg><text>RES-01 plot</text></svg>" in text
    assert "<?xml" not in text  # inline, not a nested document


def test_a_run_without_timelines_gets_no_page(tmp_path):
    out = tmp_path / "run" / "allure-results"
    out.mkdir(parents=True)
    assert timeline_plots(out) == []
    assert write_timelines_page(out, tmp_path / TIMELINES_PAGE) is None


def test_the_html_report_carries_the_page_as_an_attachment(tmp_path):
    out = results(tmp_path, in_fixture=True)
    extras = extras_for(out.parent)
    assert out.parent / TIMELINES_PAGE in extras.attachments
