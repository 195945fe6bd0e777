"""The removed-API table: which group/versions each release stops serving.

Kept as data (``data/removed-apis.json``) with its sources named, so a
new release's removals are one reviewed edit, and a test holds the table
to the pinned release's own lifecycle tags. Loading validates every
entry: a malformed table is a ``UsageError`` naming the entry, never a
check that silently finds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from gauntlet.errors import UsageError
from gauntlet.kube_version import KubeVersion, parse_version

__all__ = [
    "Removal",
    "RemovalTable",
    "api_version",
    "load_table",
    "parse_table",
    "removed_between",
    "rows",
    "split_api_version",
]

TABLE_FILE = "data/removed-apis.json"


def api_version(group: str, version: str) -> str:
    """``apps/v1``; the core group is just ``v1``."""
    return f"{group}/{version}" if group else version


def split_api_version(text: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    group, _, version = text.rpartition("/")
    return group, version


@dataclass(frozen=True)
class Removal:
    """One group/version that a release stops serving, for some kinds."""

    group: str
    version: str
    kinds: Mapping[str, str | None]
    """Kind -> its resource (plural); None: not a resource of its own
    (a subresource's body, a webhook's review)."""
    removed_in: KubeVersion
    """The first release that no longer serves it (``v1.X.0``)."""
    replacement: str | None
    """The group/version to move to; None: gone without replacement."""
    sources: tuple[str, ...]
    note: str

    @property
    def api_version(self) -> str:
        return api_version(self.group, self.version)

    @property
    def resources(self) -> frozenset[str]:
        return frozenset(r for r in self.kinds.values() if r)

    @property
    def moves_to(self) -> str:
        """How a finding names the way out."""
        if self.replacement is None:
            return "no replacement"
        return f"replacement {self.replacement}"

    @property
    def fate(self) -> str:
        """``removed in v1.16, replacement apps/v1``."""
        return f"removed in {self.removed_in.minor_name}, {self.moves_to}"

    def describe(self) -> str:
        """``apps/v1beta1 (removed in v1.16, replacement apps/v1)``."""
        return f"{self.api_version} ({self.fate})"

    def as_row(self) -> dict[str, object]:
        """The entry as evidence shows it."""
        return {
            "apiVersion": self.api_version,
            "kinds": sorted(self.kinds),
            "removed_in": self.removed_in.minor_name,
            "replacement": self.replacement,
            "note": self.note,
        }


@dataclass(frozen=True)
class RemovalTable:
    """Every entry, and the sources they cite."""

    removals: tuple[Removal, ...]
    sources: Mapping[str, str]

    def for_kind(self, group: str, version: str, kind: str) -> Removal | None:
        """The entry removing ``kind`` from ``group/version``, if any."""
        for removal in self.removals:
            if (removal.group, removal.version) == (group, version) and (
                kind in removal.kinds
            ):
                return removal
        return None

    def for_resource(
        self, group: str, version: str, resource: str
    ) -> Removal | None:
        """The entry removing ``resource`` of ``group/version``: the one
        naming the resource, else the only entry of that group/version."""
        same = [
            r for r in self.removals if (r.group, r.version) == (group, version)
        ]
        named = [r for r in same if resource in r.resources]
        if named:
            return named[0]
        return same[0] if len(same) == 1 else None

    def group_versions(self) -> frozenset[tuple[str, str]]:
        """Every (group, version) that some release removes."""
        return frozenset((r.group, r.version) for r in self.removals)


def removed_between(
    current: KubeVersion,
    target: KubeVersion,
    table: RemovalTable | None = None,
) -> list[Removal]:
    """The entries removed by the releases after ``current`` up to and
    including ``target`` (by minor: a patch release removes nothing)."""
    table = table or load_table()
    low, high = (current.major, current.minor), (target.major, target.minor)
    return [
        r
        for r in table.removals
        if low < (r.removed_in.major, r.removed_in.minor) <= high
    ]


@cache
def load_table() -> RemovalTable:
    """The packaged table.

    Raises:
        UsageError: the file is missing, not JSON or malformed.
    """
    source = resources.files("gauntlet").joinpath(TABLE_FILE)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"removed-API table {TABLE_FILE}: {exc}") from exc
    return parse_table(text, TABLE_FILE)


def parse_table(text: str, where: str = "removed-API table") -> RemovalTable:
    """A table from its JSON text.

    Raises:
        UsageError: not JSON, or an entry without a source, with a bad
            ``removed_in``, a replacement equal to the removed version,
            or a field of the wrong type (naming the entry).
    """
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise UsageError(f"{where}: expected an object with 'removals'")
    sources = loaded.get("sources")
    entries = loaded.get("removals")
    if not _is_str_map(sources) or not sources:
        raise UsageError(f"{where}: 'sources' must map names to texts")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{where}: 'removals' must be a non-empty list")
    removals = tuple(
        _entry(raw, index, sources, where) for index, raw in enumerate(entries)
    )
    return RemovalTable(removals, dict(sources))


def _entry(
    raw: object, index: int, sources: Mapping[str, str], where: str
) -> Removal:
    def bad(what: str) -> UsageError:
        return UsageError(f"{where}: removals[{index}]: {what}")

    if not isinstance(raw, dict):
        raise bad("not an object")
    group, version = raw.get("group"), raw.get("version")
    if not isinstance(group, str) or not isinstance(version, str):
        raise bad("group and version must be strings")
    if not version:
        raise bad("empty version")
    name = f"{api_version(group, version)}: "
    kinds = raw.get("kinds")
    if not isinstance(kinds, dict) or not kinds or not _kinds_ok(kinds):
        raise bad(name + "kinds must map kind names to resources or null")
    removed = raw.get("removed_in")
    if not isinstance(removed, str):
        raise bad(name + "removed_in must be a version string (v1.X)")
    try:
        removed_in = parse_version(removed, "removed_in")
    except UsageError as exc:
        raise bad(name + str(exc)) from exc
    replacement = raw.get("replacement")
    if replacement is not None and not isinstance(replacement, str):
        raise bad(name + "replacement must be a group/version or null")
    if replacement == api_version(group, version):
        raise bad(name + "the replacement is the removed version itself")
    cited = raw.get("sources")
    if not isinstance(cited, list) or not cited:
        raise bad(name + "no source")
    unknown = [s for s in cited if s not in sources]
    if unknown:
        raise bad(name + f"unknown sources {unknown}")
    note = raw.get("note")
    if not isinstance(note, str):
        raise bad(name + "note must be a string")
    return Removal(
        group=group,
        version=version,
        kinds=dict(kinds),
        removed_in=KubeVersion(removed_in.major, removed_in.minor),
        replacement=replacement,
        sources=tuple(cited),
        note=note,
    )


def _kinds_ok(kinds: Mapping[Any, Any]) -> bool:
    return all(
        isinstance(k, str) and k and (v is None or isinstance(v, str) and v)
        for k, v in kinds.items()
    )


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def rows(removals: Iterable[Removal]) -> list[dict[str, object]]:
    """Evidence rows for ``removals``."""
    return [r.as_row() for r in removals]
