"""The removed-API table agrees with the pinned release's own lifecycle tags.

Every beta and alpha type of ``k8s.io/api`` (and of the apiextensions and
aggregator modules) carries generated ``APILifecycleRemoved()`` and, when
named, ``APILifecycleReplacement()`` in ``zz_generated.prerelease-
lifecycle.go``. The lab's build downloads those modules at the pinned
release into the Go module cache; this test reads them there. A missing
module is a failure, not a skip: the table would go unchecked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gauntlet.checks.upg._removals import api_version, load_table
from gauntlet.gobuild.build import kubernetes_local_version
from gauntlet.lab.versions import CURRENT

STAGING = kubernetes_local_version(CURRENT.kubernetes)("k8s.io/api")
MODULES = {
    "k8s.io/api": "",
    "k8s.io/apiextensions-apiserver": "pkg/apis",
    "k8s.io/kube-aggregator": "pkg/apis",
}
_FUNC = re.compile(
    r"func \(in \*(\w+)\) APILifecycle(Removed|Replacement)\(\)[^{]*\{\s*"
    r"return ([^\n]+)\n"
)
_GROUP = re.compile(r'const GroupName = "([^"]*)"')
_GVK = re.compile(r'Group: "([^"]*)", Version: "([^"]*)"')


@dataclass(frozen=True)
class Lifecycle:
    """What a module says of one type."""

    group: str
    version: str
    kind: str
    removed_in: str
    replacement: str | None
    file: Path


def module_cache() -> Path:
    """Where ``go`` keeps downloaded modules."""
    if shutil.which("go"):
        out = subprocess.run(
            ["go", "env", "GOMODCACHE"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    return Path(gopath.split(os.pathsep)[0]) / "pkg" / "mod"


def module_source(module: str) -> Path:
    path = module_cache() / f"{module}@{STAGING}"
    if not path.is_dir():
        pytest.fail(
            f"{module}@{STAGING} is not in the Go module cache ({path}): "
            "build the lab first (`gauntlet lab up` downloads it), or "
            f"`go mod download {module}@{STAGING}`",
            pytrace=False,
        )
    return path


def lifecycles(module: str, under: str) -> list[Lifecycle]:
    """Every non-list type that the module marks with a removal."""
    root = module_source(module) / under
    found = []
    for file in sorted(root.rglob("zz_generated.prerelease-lifecycle.go")):
        group = _GROUP.search((file.parent / "register.go").read_text())
        assert group is not None, f"no GroupName beside {file}"
        funcs: dict[str, dict[str, str]] = {}
        for kind, what, ret in _FUNC.findall(file.read_text()):
            funcs.setdefault(kind, {})[what] = ret.strip()
        for kind, said in sorted(funcs.items()):
            if kind.endswith("List") or "Removed" not in said:
                continue
            major, minor = (int(x) for x in said["Removed"].split(","))
            replacement = None
            if "Replacement" in said:
                gvk = _GVK.search(said["Replacement"])
                assert gvk is not None, said["Replacement"]
                replacement = api_version(*gvk.groups())
            found.append(
                Lifecycle(
                    group=group.group(1),
                    version=file.parent.name,
                    kind=kind,
                    removed_in=f"v{major}.{minor}",
                    replacement=replacement,
                    file=file,
                )
            )
    return found


TABLE = load_table()
PINNED = f"v1.{CURRENT.minor}"


@pytest.fixture(scope="module")
def marked() -> list[Lifecycle]:
    """What the pinned modules mark (fails when one is not downloaded)."""
    return [
        lc
        for module, under in MODULES.items()
        for lc in lifecycles(module, under)
    ]


def test_the_pinned_modules_mark_removals_at_all(marked):
    assert len(marked) > 50
    assert any(lc.removed_in == PINNED for lc in marked)


def test_the_table_cites_the_pinned_modules():
    for module in MODULES:
        assert f"{module}@{STAGING}" in TABLE.sources, module


def test_every_removal_the_pinned_release_marks_is_in_the_table(marked):
    problems = []
    for lc in marked:
        where = f"{api_version(lc.group, lc.version)} {lc.kind}"
        removal = TABLE.for_kind(lc.group, lc.version, lc.kind)
        if removal is None:
            problems.append(f"{where}: not in the table ({lc.file})")
        elif removal.removed_in.minor_name != lc.removed_in:
            problems.append(
                f"{where}: table says {removal.removed_in.minor_name}, "
                f"the module {lc.removed_in}"
            )
        elif lc.replacement and removal.replacement != lc.replacement:
            problems.append(
                f"{where}: table replaces it with {removal.replacement}, "
                f"the module with {lc.replacement}"
            )
    assert not problems, "\n".join(problems)


def test_the_pinned_release_removals_name_only_types_it_marks(marked):
    """The table's part for the pinned release invents nothing."""
    known = {
        (lc.group, lc.version, lc.kind)
        for lc in marked
        if lc.removed_in == PINNED
    }
    pinned = [r for r in TABLE.removals if r.removed_in.minor_name == PINNED]
    assert pinned
    invented = [
        f"{r.api_version} {kind}"
        for r in pinned
        for kind in r.kinds
        if (r.group, r.version, kind) not in known
    ]
    assert not invented, invented
