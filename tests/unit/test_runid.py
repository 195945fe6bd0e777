"""Run ids sort by their UTC start and never collide; one format for all."""

import re
from datetime import UTC, datetime

from gauntlet.runid import RUN_ID_ENV, current_run_id, new_run_id

STAMP = r"\d{8}T\d{6}Z-[0-9a-f]{6}"


def test_run_id_is_utc_start_and_six_hex_digits():
    before = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id()
    after = datetime.now(UTC)
    assert re.fullmatch(STAMP, run_id)
    started = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ")
    assert before <= started.replace(tzinfo=UTC) <= after


def test_prefix_goes_in_front():
    assert re.fullmatch(rf"chaos-{STAMP}", new_run_id("chaos"))


def test_run_ids_made_in_the_same_second_differ():
    assert len({new_run_id() for _ in range(20)}) == 20


def test_current_run_id_is_the_one_gauntlet_handed_down(monkeypatch):
    monkeypatch.setenv(RUN_ID_ENV, "20250101T000000Z-abcdef")
    assert current_run_id() == "20250101T000000Z-abcdef"


def test_no_current_run_id_outside_gauntlet(monkeypatch):
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    assert current_run_id() is None
    monkeypatch.setenv(RUN_ID_ENV, "")
    assert current_run_id() is None
