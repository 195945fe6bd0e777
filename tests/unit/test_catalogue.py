"""The packaged guarantee catalogue parses into the IDs the docs promise."""

from importlib import resources
from pathlib import Path

import pytest

from gauntlet.catalogue import PROFILE_NAMES, load_catalogue, parse_catalogue
from gauntlet.errors import UsageError

DOCS_COPY = Path(__file__).resolve().parents[2] / "docs" / "guarantees.md"


@pytest.mark.parametrize(
    ("area", "count", "profile"),
    [
        ("ARCH", 16, "gate"),
        ("RES", 10, "gameday"),
        ("PART", 4, "gameday"),
        ("LOAD", 3, "load"),
        ("UPG", 6, "preupgrade"),
        ("CONF", 1, "conformance"),
    ],
)
def test_each_area_has_its_guarantees_and_profile(area, count, profile):
    guarantees = load_catalogue().by_area(area)
    assert [g.id for g in guarantees] == [
        f"{area}-{n:02d}" for n in range(1, count + 1)
    ]
    assert {g.profile for g in guarantees} == {profile}


def test_catalogue_iterates_in_document_order():
    catalogue = load_catalogue()
    assert len(catalogue) == 40
    assert [g.id for g in catalogue] == list(catalogue.ids)
    assert catalogue.ids[0] == "ARCH-01"
    assert catalogue.ids[-1] == "CONF-01"
    # postupgrade has no section: it checks UPG-05 again, after the upgrade
    assert {g.profile for g in catalogue} == set(PROFILE_NAMES) - {
        "postupgrade"
    }


def test_entries_carry_claim_and_observation():
    guarantee = load_catalogue().get("ARCH-08")
    assert guarantee.area == "ARCH"
    assert guarantee.claim == "Controllers hold desired state."
    assert guarantee.observe.startswith("A deleted pod of a Deployment")
    assert "ARCH-08" in load_catalogue()
    assert load_catalogue()["ARCH-08"] is guarantee


def test_unknown_id_names_close_matches():
    with pytest.raises(UsageError) as caught:
        load_catalogue().get("ARCH-99")
    message = str(caught.value)
    assert "unknown guarantee ID 'ARCH-99'" in message
    assert "ARCH-09" in message


def test_unknown_id_without_close_match_still_points_to_docs():
    with pytest.raises(UsageError, match="docs/guarantees.md"):
        load_catalogue().get("NOPE")


def test_docs_copy_is_identical_to_packaged_copy():
    packaged = resources.files("gauntlet").joinpath("data/guarantees.md")
    assert DOCS_COPY.read_text("utf-8") == packaged.read_text("utf-8")


def test_row_outside_a_section_is_rejected():
    with pytest.raises(UsageError, match="line 1"):
        parse_catalogue("| ARCH-01 | claim | observe |\n")


def test_unknown_profile_in_heading_is_rejected():
    text = "## ARCH: architecture (party)\n| ARCH-01 | claim | observe |\n"
    with pytest.raises(UsageError, match="unknown profile 'party'"):
        parse_catalogue(text)


def test_id_in_the_wrong_section_is_rejected():
    text = "## RES: resilience (gameday)\n| ARCH-01 | claim | observe |\n"
    with pytest.raises(UsageError, match="ARCH-01 is in section RES"):
        parse_catalogue(text)


def test_duplicate_ids_are_rejected():
    row = "| RES-01 | claim | observe |\n"
    with pytest.raises(UsageError, match="duplicate"):
        parse_catalogue("## RES: resilience (gameday)\n" + row + row)


def test_load_from_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="reading catalogue"):
        load_catalogue(tmp_path / "missing.md")
