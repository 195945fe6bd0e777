"""Recipes for the lab's binaries, built from published Go modules.

``gauntlet.gobuild`` builds and caches them; this module only says what
each release of the lab is made of.
"""

from __future__ import annotations

import os
from pathlib import Path

from gauntlet.gobuild import etcd as gobuild_etcd
from gauntlet.gobuild.build import (
    GoBuild,
    ensure_built,
    kubernetes_local_version,
    kubernetes_version_flags,
    module_dir,
)
from gauntlet.images import AGNHOST_VERSION
from gauntlet.lab.versions import CURRENT, Release
from gauntlet.project import cache_root

AGNHOST_PACKAGE = "k8s.io/kubernetes/test/images/agnhost"
NONEWPRIVS_PACKAGE = "k8s.io/kubernetes/test/images/nonewprivs"
"""``nnp``, which the nonewprivs image runs setuid (``lab.spec_images``)."""


def kubernetes_build(release: Release = CURRENT) -> GoBuild:
    v = release.kubernetes
    xflags = kubernetes_version_flags(v)
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
            NONEWPRIVS_PACKAGE,
        ),
        upstream="k8s.io/kubernetes",
        local_version=kubernetes_local_version(v),
        ldflags="-s -w " + " ".join(xflags),
    )


def etcd_build(release: Release = CURRENT) -> GoBuild:
    """The release's etcd, etcdctl and etcdutl (``gobuild.etcd``)."""
    return gobuild_etcd.etcd_build(release.etcd)


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
