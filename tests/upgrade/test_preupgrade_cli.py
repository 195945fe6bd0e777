"""`gauntlet run --profile preupgrade` on the lab at the previous release:
what a user preparing the upgrade runs, and what it refuses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))

from e2e_cli import gauntlet, one_clear_line, summary_of  # noqa: E402

pytestmark = pytest.mark.usefixtures("old_lab")


def test_a_target_that_skips_minors_fails_upg_01_naming_them():
    done = gauntlet(
        "run", "--profile", "preupgrade", "--target-version", "v1.39.0",
        "-k", "upg_01",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    (entry,) = summary_of(done)["guarantees"]
    assert entry["guarantee"] == "UPG-01"
    assert entry["verdict"] == "fail"
    assert "skips v1.37, v1.38" in entry["message"]


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ((), "needs --target-version"),
        (("--target-version", "v1.35.0"), "is a downgrade"),
        (("--target-version", "v1.36.3"), "already runs it"),
        (("--target-version", "v1.37.2", "--rehearse"), "--allow-destructive"),
    ],
)
def test_what_is_no_upgrade_is_refused_with_one_line(args, why):
    done = gauntlet("run", "--profile", "preupgrade", *args)
    assert why in one_clear_line(done)
