"""The package is built in floors, and imports only go down.

Like the Kubernetes e2e framework (a small core; helpers that may import
the core, never the reverse), every top-level package of ``gauntlet`` sits
on one floor of ``FLOORS``. A module may import from its own package and
from packages on lower floors; packages that share a floor never import
each other. Imports inside functions count: a lazy import is still an
edge. docs/architecture.md draws the same floors.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import gauntlet

SRC = Path(gauntlet.__file__).parent

FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "errors", "wellknown", "exit_codes"}),
    frozenset(
        {
            "progress",
            "project",
            "images",
            "catalogue",
            "config",
            "children",
            "kube_version",
            "upgrade_steps",
        }
    ),
    frozenset({"profiles", "reporting", "runid"}),
    frozenset({"cluster", "load", "gobuild"}),
    frozenset({"nodes", "safety", "conformance"}),
    frozenset({"lab", "schedule"}),
    frozenset({"backends", "observe"}),
    frozenset({"faults"}),
    frozenset({"checks", "chaos"}),
    frozenset({"pytest_plugin", "cli"}),
)
"""Lowest first. ``__init__`` is the root package (its version)."""

MAX_MODULE_LINES = 450
LAB_AWARE = frozenset({"lab", "backends", "cli"})
"""Only these packages may know the lab: what a check, an observation, a
fault or a chaos activity does must work on any cluster."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every ``gauntlet`` module that ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[
                    : len(package.split(".")) - node.level + 1
                ]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        found |= {t for t in targets if t in known and t != name}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _imports(m, p, known) for m, p in modules.items()}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _floor(top: str) -> int:
    for index, floor in enumerate(FLOORS):
        if top in floor:
            return index
    raise AssertionError(f"package {top} has no floor in FLOORS")


def test_every_top_level_package_has_a_floor() -> None:
    for module in _modules():
        _floor(_top(module))


def test_imports_between_packages_only_go_down() -> None:
    upward = []
    for module, targets in sorted(_graph().items()):
        source = _top(module)
        for target in sorted(targets):
            other = _top(target)
            if other != source and _floor(other) >= _floor(source):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that do not go down:\n" + "\n".join(upward)


def test_only_the_composition_root_knows_the_lab() -> None:
    knowing = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _top(target) == "lab" and _top(module) not in LAB_AWARE
    )
    assert not knowing, (
        "lab imported outside "
        + ", ".join(sorted(LAB_AWARE))
        + ":\n"
        + "\n".join(knowing)
    )


def test_no_module_imports_itself_through_a_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 open, 2 done
    cycles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state[target] == 1:
                cycles.append(" -> ".join([*path, target]))
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    # A package's __init__ importing its own submodules is not a cycle
    # unless a submodule imports the package back.
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_is_a_large_room() -> None:
    large = {
        name: count
        for name, path in _modules().items()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not large, f"modules over {MAX_MODULE_LINES} lines: {large}"


def test_one_etcd_client() -> None:
    """etcdctl and etcdutl are run from one place: ``gauntlet.observe.etcd``
    (``gobuild.etcd`` only compiles them, by module path)."""
    spelling = {
        name
        for name, path in _modules().items()
        for tool in ("etcdctl", "etcdutl")
        if f'"{tool}' in path.read_text() or f"'{tool}" in path.read_text()
    }
    outside = {n for n in spelling if not n.startswith("gauntlet.observe.etcd")}
    assert not outside, f"etcdctl run outside observe.etcd: {outside}"
