"""Every guarantee test reads like a specification of its guarantee.

Checked statically (no cluster): each test in suites/ carries a known
guarantee ID and a profile marker that matches the catalogue, its
docstring opens with "Guarantee:" and says what MUST hold, and no two
tests state the same sentence.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gauntlet.catalogue import load_catalogue

SUITES = Path(__file__).resolve().parents[2] / "suites"


def _marker_args(node: ast.AST, name: str) -> list[str]:
    found = []
    decorators = getattr(node, "decorator_list", [])
    for deco in decorators:
        if (
            isinstance(deco, ast.Call)
            and isinstance(deco.func, ast.Attribute)
            and deco.func.attr == name
        ):
            found += [a.value for a in deco.args if isinstance(a, ast.Constant)]
    return found


def _module_profiles(tree: ast.Module) -> list[str]:
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark"
            for t in stmt.targets
        ):
            return [
                a.value
                for call in ast.walk(stmt.value)
                if isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "profile"
                for a in call.args
                if isinstance(a, ast.Constant)
            ]
    return []


def _tests() -> list[tuple[Path, ast.FunctionDef, list[str]]]:
    found = []
    for path in sorted(SUITES.rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        profiles = _module_profiles(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith(
                "test_"
            ):
                found.append(
                    (path, node, profiles + _marker_args(node, "profile"))
                )
    return found


TESTS = _tests()
CHECKED_AGAIN = {"postupgrade": ("UPG-05",)}
"""Profiles without a catalogue section of their own: postupgrade checks
preupgrade's UPG-05 again, against the baseline preupgrade saved."""


def test_the_suites_are_not_empty():
    assert len(TESTS) >= 1


@pytest.mark.parametrize(
    ("path", "func", "profiles"),
    TESTS,
    ids=[f"{p.name}::{f.name}" for p, f, _ in TESTS],
)
def test_each_guarantee_test_names_a_known_guarantee_and_its_profile(
    path, func, profiles
):
    ids = _marker_args(func, "guarantee")
    assert len(ids) == 1, f"{path.name}::{func.name} needs one guarantee marker"
    entry = load_catalogue().get(ids[0])
    again = {p for p in profiles if entry.id in CHECKED_AGAIN.get(p, ())}
    assert entry.profile in profiles or again, (
        f"{func.name}: profile {profiles} but {entry.id} is {entry.profile}"
    )
    doc = ast.get_docstring(func) or ""
    assert doc.startswith("Guarantee:") and "MUST" in doc, (
        f"{func.name}: docstring must open with 'Guarantee:' and say MUST"
    )


def test_no_two_tests_state_the_same_guarantee_sentence():
    seen: dict[str, str] = {}
    for path, func, _ in TESTS:
        sentence = " ".join((ast.get_docstring(func) or "").split())
        assert sentence not in seen, (
            f"{path.name}::{func.name} repeats {seen[sentence]}"
        )
        seen[sentence] = f"{path.name}::{func.name}"
