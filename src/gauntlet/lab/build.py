"""Build the lab's binaries from published Go modules, cached by version.

Each component is built once into ``<cache>/bin/<name>-<version>/``; a
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
from gauntlet.errors import LabError
from gauntlet.images import AGNHOST_VERSION
from gauntlet.lab.gomod import derive_gomod
from gauntlet.lab.paths import cache_root
from gauntlet.lab.versions import CURRENT, Release

STAMP = ".complete"
"""Names what the directory holds; written last."""
AGNHOST_PACKAGE = "k8s.io/kubernetes/test/images/agnhost"

ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


@dataclass(frozen=True)
class GoBuild:
    """One `go build` of main packages from a published module."""

    name: str
    version: str
    requires: tuple[tuple[str, str], ...]
    packages: tuple[str, ...]
    upstream: str | None = None
    local_version: Callable[[str], str] | None = None
    sources: dict[str, str] = field(default_factory=dict)
    ldflags: str = "-s -w"
    tags: str = ""

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
        record = {
            "version": self.version,
            "packages": list(self.packages),
            "ldflags": self.ldflags,
            "tags": self.tags,
            "sources": sources,
        }
        return json.dumps(record, indent=1, sort_keys=True) + "\n"


def kubernetes_build(release: Release = CURRENT) -> GoBuild:
    v = release.kubernetes
    major, minor = v.lstrip("v").split(".")[:2]
    xflags = []
    for pkg in (
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ):
        xflags += [
            f"-X {pkg}.gitVersion={v}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    # agnhost's version is what the lab's image of it is tagged with.
    xflags.append(f"-X main.Version={AGNHOST_VERSION}")
    cmds = (
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "kubectl",
        "kubeadm",
    )
    return GoBuild(
        name="kubernetes",
        version=v,
        requires=(("k8s.io/kubernetes", v),),
        packages=(
            *(f"k8s.io/kubernetes/cmd/{c}" for c in cmds),
            AGNHOST_PACKAGE,
        ),
        upstream="k8s.io/kubernetes",
        local_version=lambda _name: release.staging,
        ldflags="-s -w " + " ".join(xflags),
    )


def etcd_build(release: Release = CURRENT) -> GoBuild:
    v = release.etcd
    return GoBuild(
        name="etcd",
        version=v,
        requires=tuple(
            (f"go.etcd.io/etcd/{m}/v3", v)
            for m in ("server", "etcdctl", "etcdutl")
        ),
        packages=(
            ".",
            "go.etcd.io/etcd/etcdctl/v3",
            "go.etcd.io/etcd/etcdutl/v3",
        ),
        sources={"main.go": ETCD_MAIN},
    )


def containerd_build(release: Release = CURRENT) -> GoBuild:
    v = release.containerd
    base = "github.com/containerd/containerd/v2/cmd"
    return GoBuild(
        name="containerd",
        version=v,
        requires=(("github.com/containerd/containerd/v2", v),),
        packages=tuple(
            f"{base}/{c}"
            for c in ("containerd", "containerd-shim-runc-v2", "ctr")
        ),
        tags="no_btrfs no_devmapper no_zfs no_aufs",
        ldflags="-s -w -X github.com/containerd/containerd/v2/version."
        f"Version={v}",
    )


def coredns_build(release: Release = CURRENT) -> GoBuild:
    return GoBuild(
        name="coredns",
        version=release.coredns,
        requires=(("github.com/coredns/coredns", release.coredns),),
        packages=("github.com/coredns/coredns",),
    )


def all_builds(release: Release = CURRENT) -> list[GoBuild]:
    return [
        kubernetes_build(release),
        etcd_build(release),
        containerd_build(release),
        coredns_build(release),
    ]


def _go(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ go {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            ["go", *args], cwd=cwd, env=env, stdout=out, stderr=out
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise LabError(
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
        raise LabError(
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
        raise LabError("the Go toolchain is missing: install Go 1.26 or newer")
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
            f'\t_ "{p}"' for p in build.packages if not p.startswith(".")
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


def ensure_all(release: Release = CURRENT) -> dict[str, Path]:
    """Build every component of ``release``; return name -> bin directory."""
    return {b.name: ensure_built(b) for b in all_builds(release)}


def kubernetes_source(release: Release = CURRENT) -> Path:
    """Source tree of the pinned k8s.io/kubernetes (for pause.c)."""
    work = cache_root() / "build"
    work.mkdir(parents=True, exist_ok=True)
    return module_dir(
        "k8s.io/kubernetes",
        release.kubernetes,
        work,
        dict(os.environ),
        work / "download.log",
    )
