"""The guarantee catalogue, parsed from the packaged ``guarantees.md``.

The Markdown file is the single source: docs, test markers and reports all
use its IDs, so the code reads the file rather than keeping a second list
that could drift from it.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from gauntlet.errors import UsageError

__all__ = [
    "PROFILE_NAMES",
    "Catalogue",
    "Guarantee",
    "Profile",
    "load_catalogue",
    "parse_catalogue",
]

Profile = Literal[
    "gate", "gameday", "preupgrade", "postupgrade", "load", "conformance"
]
PROFILE_NAMES: tuple[Profile, ...] = (
    "gate",
    "gameday",
    "preupgrade",
    "postupgrade",
    "load",
    "conformance",
)
"""The run profiles a test may name; ``gauntlet.profiles`` says what each
one runs. Every one but ``postupgrade`` names a catalogue section:
postupgrade checks preupgrade's UPG-05 again, against its baseline."""

_SECTION = re.compile(r"^##\s+(?P<area>[A-Z]+):\s+.*\((?P<profile>\w+)\)\s*$")
_ROW = re.compile(r"^\|\s*(?P<id>[A-Z]+-\d{2})\s*\|(?P<rest>.*)\|\s*$")


@dataclass(frozen=True)
class Guarantee:
    """One catalogue entry: a claim and how a test can observe it."""

    id: str
    area: str
    claim: str
    observe: str
    profile: Profile


class Catalogue:
    """Guarantees by ID, iterated in catalogue order.

    ``get`` raises instead of returning ``None`` so that a typo in a marker
    fails loudly with suggestions rather than silently matching nothing.
    """

    def __init__(self, guarantees: tuple[Guarantee, ...]) -> None:
        self._by_id = {g.id: g for g in guarantees}
        if len(self._by_id) != len(guarantees):
            raise UsageError("guarantee catalogue: duplicate IDs")
        self._ordered = guarantees

    def __iter__(self) -> Iterator[Guarantee]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def __contains__(self, guarantee_id: object) -> bool:
        return guarantee_id in self._by_id

    def __getitem__(self, guarantee_id: str) -> Guarantee:
        return self.get(guarantee_id)

    @property
    def ids(self) -> tuple[str, ...]:
        """All IDs in catalogue order."""
        return tuple(g.id for g in self._ordered)

    def get(self, guarantee_id: str) -> Guarantee:
        """Return the guarantee; raise ``UsageError`` naming close IDs."""
        found = self._by_id.get(guarantee_id)
        if found is not None:
            return found
        close = difflib.get_close_matches(
            str(guarantee_id).upper(), self.ids, n=3, cutoff=0.6
        )
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(
            f"unknown guarantee ID {guarantee_id!r}{hint} "
            "(the IDs are listed in docs/guarantees.md)"
        )

    def by_area(self, area: str) -> tuple[Guarantee, ...]:
        """Guarantees of one area (``"ARCH"``, ``"RES"``...), in order."""
        return tuple(g for g in self._ordered if g.area == area)

    def by_profile(self, profile: Profile) -> tuple[Guarantee, ...]:
        """Guarantees whose section belongs to ``profile``, in order."""
        return tuple(g for g in self._ordered if g.profile == profile)


def parse_catalogue(text: str) -> Catalogue:
    """Parse the catalogue Markdown; raise ``UsageError`` if malformed.

    Sections are ``## AREA: title (profile)``; rows are
    ``| ID | claim | how to observe it |``.
    """
    entries: list[Guarantee] = []
    area: str | None = None
    profile: Profile | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        section = _SECTION.match(line)
        if section:
            area = section["area"]
            profile = _profile(section["profile"], lineno)
            continue
        row = _ROW.match(line)
        if row is None:
            continue
        gid = row["id"]
        cells = [cell.strip() for cell in row["rest"].split("|")]
        if area is None or profile is None or len(cells) != 2:
            raise UsageError(
                f"guarantee catalogue line {lineno}: {gid} is outside a "
                "section or does not have exactly a claim and an observation"
            )
        if not gid.startswith(f"{area}-"):
            raise UsageError(
                f"guarantee catalogue line {lineno}: {gid} is in section {area}"
            )
        entries.append(Guarantee(gid, area, cells[0], cells[1], profile))
    if not entries:
        raise UsageError("guarantee catalogue: no guarantee rows found")
    return Catalogue(tuple(entries))


@functools.cache
def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load the packaged catalogue, or the one at ``path``."""
    if path is None:
        source = resources.files("gauntlet").joinpath("data/guarantees.md")
        text = source.read_text(encoding="utf-8")
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"reading catalogue {path}: {exc}") from exc
    return parse_catalogue(text)


def _profile(name: str, lineno: int) -> Profile:
    for profile in PROFILE_NAMES:
        if profile == name:
            return profile
    raise UsageError(
        f"guarantee catalogue line {lineno}: unknown profile {name!r} "
        f"(expected one of {', '.join(PROFILE_NAMES)})"
    )
