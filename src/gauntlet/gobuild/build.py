"""Build Go main packages and test binaries from published modules.

Each build is made once into ``<cache>/bin/<name>-<version>/``; a
``.complete`` stamp records what was built (packages, flags), so an
interrupted build, or a cached one that lacks a newly added package, is
redone. The Go build cache makes such a rebuild mostly a link step. A
running lab uses these binaries in place, so a rebuild swaps each file in
by rename: every path always holds a whole binary, old or new.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gauntlet import progress
from gauntlet.errors import BuildError
from gauntlet.gobuild.gomod import derive_gomod
from gauntlet.project import cache_root

__all__ = [
    "STAMP",
    "GoBuild",
    "ensure_built",
    "install",
    "is_built",
    "kubernetes_local_version",
    "kubernetes_version_flags",
    "module_dir",
]

STAMP = ".complete"
"""Names what the directory holds; written last."""


def kubernetes_local_version(kubernetes: str) -> Callable[[str], str]:
    """The published staging modules (k8s.io/api, ...) of a Kubernetes
    release: ``v1.37.2`` -> ``v0.37.2``."""
    _, minor, patch = kubernetes.lstrip("v").split(".")
    staging = f"v0.{minor}.{patch}"
    return lambda _name: staging


def kubernetes_version_flags(kubernetes: str) -> list[str]:
    """``-X`` flags stamping a Kubernetes release into its binaries, as
    upstream's build does (``kubectl version``, ``/version`` report it)."""
    major, minor = kubernetes.lstrip("v").split(".")[:2]
    flags = []
    for pkg in (
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ):
        flags += [
            f"-X {pkg}.gitVersion={kubernetes}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return flags


@dataclass(frozen=True)
class GoBuild:
    """One `go build` of main packages from a published module, and
    `go test -c` of its ``test_packages`` (``<last element>.test``)."""

    name: str
    version: str
    requires: tuple[tuple[str, str], ...]
    packages: tuple[str, ...]
    upstream: str | None = None
    local_version: Callable[[str], str] | None = None
    sources: dict[str, str] = field(default_factory=dict)
    ldflags: str = "-s -w"
    tags: str = ""
    test_packages: tuple[str, ...] = ()

    @property
    def out_dir(self) -> Path:
        return cache_root() / "bin" / f"{self.name}-{self.version}"

    def binary(self, name: str) -> Path:
        return self.out_dir / name

    @property
    def stamp(self) -> str:
        """What this build makes; a cached build with another stamp is
        stale (a package added, flags changed)."""
        sources = {
            name: hashlib.sha256(text.encode()).hexdigest()
            for name, text in sorted(self.sources.items())
        }
        record: dict[str, object] = {
            "version": self.version,
            "packages": list(self.packages),
            "ldflags": self.ldflags,
            "tags": self.tags,
            "sources": sources,
        }
        if self.test_packages:  # absent otherwise: older stamps still fit
            record["test_packages"] = list(self.test_packages)
        return json.dumps(record, indent=1, sort_keys=True) + "\n"


def _go(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ go {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            ["go", *args], cwd=cwd, env=env, stdout=out, stderr=out
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise BuildError(
            f"go {args[0]} failed in {cwd} (exit {proc.returncode}); "
            f"log {log}:\n" + "\n".join(tail)
        )


def module_dir(
    module: str, version: str, cwd: Path, env: dict[str, str], log: Path
) -> Path:
    """Download ``module@version`` through the proxy; return its source."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        log.write_text(out.stdout + out.stderr)
        raise BuildError(
            f"cannot download {module}@{version} from the Go module proxy: "
            f"{(out.stdout + out.stderr).strip()[-300:]}"
        )
    return Path(json.loads(out.stdout)["Dir"])


def is_built(build: GoBuild) -> bool:
    """The cache holds exactly this build (its stamp matches)."""
    try:
        return (build.out_dir / STAMP).read_text() == build.stamp
    except OSError:
        return False


def ensure_built(build: GoBuild) -> Path:
    """Build ``build`` unless its binaries are already cached."""
    if is_built(build):
        return build.out_dir
    if shutil.which("go") is None:
        raise BuildError(
            "the Go toolchain is missing: install Go 1.26 or newer"
        )
    work = cache_root() / "build" / f"{build.name}-{build.version}"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    log.write_text("")
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod")
    with progress.step(f"Building {build.name} {build.version}"):
        if build.upstream is not None and build.local_version is not None:
            src = module_dir(build.upstream, build.version, work, env, log)
            gomod = derive_gomod(
                (src / "go.mod").read_text(),
                build.upstream,
                build.version,
                build.local_version,
            )
        else:
            reqs = "\n".join(f"\t{m} {v}" for m, v in build.requires)
            gomod = (
                "module kube-gauntlet.local/build\n\ngo 1.26.0\n\n"
                f"require (\n{reqs}\n)\n"
            )
        (work / "go.mod").write_text(gomod)
        imports = "\n".join(
            f'\t_ "{p}"'
            for p in (*build.packages, *build.test_packages)
            if not p.startswith(".")
        )
        (work / "tools.go").write_text(
            f"//go:build tools\n\npackage main\n\nimport (\n{imports}\n)\n"
        )
        for name, text in build.sources.items():
            (work / name).write_text(text)
        _go(["mod", "tidy"], work, env, log)
        tmp = build.out_dir.parent / f".{build.out_dir.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        args = ["build", "-trimpath", "-ldflags", build.ldflags]
        if build.tags:
            args += ["-tags", build.tags]
        targets = list(build.packages)
        if "." in targets:
            main_out = tmp / build.name
            _go([*args, "-o", str(main_out), "."], work, env, log)
            targets.remove(".")
        if targets:
            _go([*args, "-o", str(tmp) + "/", *targets], work, env, log)
        for pkg in build.test_packages:
            out = tmp / f"{pkg.rsplit('/', 1)[-1]}.test"
            _go(["test", "-c", *args[1:], "-o", str(out), pkg], work, env, log)
        install(tmp, build.out_dir, build.stamp)
    return build.out_dir


def install(built: Path, out_dir: Path, stamp: str) -> None:
    """Move the files of ``built`` into ``out_dir``, then write the stamp.

    A fresh ``out_dir`` is one rename. Over an existing one (a lab may be
    running from it) each file is renamed over its old version, so no path
    is ever missing or half written; files the new build lacks are left.
    The stamp goes last: a crash in between leaves a stale stamp, and the
    next call builds again.
    """
    (built / STAMP).unlink(missing_ok=True)
    if not out_dir.exists():
        (built / STAMP).write_text(stamp)
        built.rename(out_dir)
        return
    for path in sorted(built.iterdir()):
        os.replace(path, out_dir / path.name)
    fresh = out_dir / f".{STAMP}.tmp"
    fresh.write_text(stamp)
    os.replace(fresh, out_dir / STAMP)
    shutil.rmtree(built, ignore_errors=True)
