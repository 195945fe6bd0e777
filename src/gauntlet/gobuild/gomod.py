"""Go build modules for the published sources of the lab's components.

A published main module such as ``k8s.io/kubernetes`` cannot be built with
``go install`` because its go.mod replaces its staging modules with local
directories. We build it from a module of our own that requires it and
turns every local replace into the published module at the matching version.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_BLOCK = re.compile(r"^(require|replace) \((.*?)^\)", re.S | re.M)
_SINGLE = re.compile(r"^(require|replace) ([^(\n].*)$", re.M)
_GO = re.compile(r"^go (\S+)$", re.M)
_GODEBUG = re.compile(r"^godebug (.+)$", re.M)


def _entries(text: str, kind: str) -> list[str]:
    lines: list[str] = []
    for found_kind, body in _BLOCK.findall(text):
        if found_kind == kind:
            lines += [ln.strip() for ln in body.splitlines()]
    lines += [body.strip() for k, body in _SINGLE.findall(text) if k == kind]
    return [ln.split("//")[0].strip() for ln in lines if ln and ln[0] != "/"]


def derive_gomod(
    upstream: str,
    module: str,
    version: str,
    local_version: Callable[[str], str],
    own_module: str = "kube-gauntlet.local/build",
) -> str:
    """A go.mod that builds ``module@version`` with published dependencies.

    ``local_version(name)`` gives the published version to use for a module
    that ``upstream`` replaces with a local directory.
    """
    local = {}
    for entry in _entries(upstream, "replace"):
        left, _, right = entry.partition("=>")
        name = left.split()[0]
        if right.strip().startswith("."):
            local[name] = local_version(name)
    requires = [f"\t{module} {version}"]
    for entry in _entries(upstream, "require"):
        name, ver = entry.split()[:2]
        requires.append(f"\t{name} {local.get(name, ver)}")
    go = _GO.search(upstream)
    out = [f"module {own_module}", "", f"go {go.group(1) if go else '1.22'}"]
    debug = _GODEBUG.search(upstream)
    if debug:
        out += ["", f"godebug {debug.group(1)}"]
    out += ["", "require (", *requires, ")"]
    if local:
        out += ["", "replace ("]
        out += [f"\t{n} => {n} {v}" for n, v in sorted(local.items())]
        out.append(")")
    return "\n".join(out) + "\n"
