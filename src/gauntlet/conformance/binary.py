"""The upstream e2e binary, ginkgo and kubectl of the target's version.

Built once per Kubernetes version from the published ``k8s.io/kubernetes``
module (like the lab's binaries, and cached beside them), so the specs
are exactly the ones that release certifies with. A managed cluster's
version such as ``v1.31.4-eks-5da3bd0`` runs the specs of ``v1.31.4``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import Unobservable
from gauntlet.gobuild.build import (
    GoBuild,
    ensure_built,
    kubernetes_local_version,
    kubernetes_version_flags,
)

__all__ = ["E2E_PACKAGE", "E2eTools", "e2e_build", "ensure_e2e", "release_of"]

E2E_PACKAGE = "k8s.io/kubernetes/test/e2e"
GINKGO_PACKAGE = "github.com/onsi/ginkgo/v2/ginkgo"
KUBECTL_PACKAGE = "k8s.io/kubernetes/cmd/kubectl"
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class E2eTools:
    """Where the built tools are."""

    e2e: Path
    ginkgo: Path
    kubectl: Path
    version: str


def release_of(server_version: str) -> str:
    """The upstream release a server version was built from.

    Raises:
        Unobservable: the version does not start with ``vMAJOR.MINOR.PATCH``
            (no upstream e2e binary can be chosen for it).
    """
    found = _RELEASE.match(server_version.strip())
    if found is None:
        raise Unobservable(
            f"server version {server_version!r} names no upstream release: "
            "no e2e binary to run"
        )
    major, minor, patch = found.groups()
    return f"v{major}.{minor}.{patch}"


def e2e_build(release: str) -> GoBuild:
    """The recipe: ginkgo and kubectl built, the e2e package compiled as
    a test binary, at ``release``'s pinned dependencies."""
    return GoBuild(
        name="e2e",
        version=release,
        requires=(("k8s.io/kubernetes", release),),
        packages=(GINKGO_PACKAGE, KUBECTL_PACKAGE),
        test_packages=(E2E_PACKAGE,),
        upstream="k8s.io/kubernetes",
        local_version=kubernetes_local_version(release),
        ldflags=" ".join(["-s -w", *kubernetes_version_flags(release)]),
    )


def ensure_e2e(server_version: str) -> E2eTools:
    """Build (or find cached) the tools for ``server_version``.

    Raises:
        Unobservable: the version names no release.
        BuildError: the module or toolchain could not build it.
    """
    release = release_of(server_version)
    out = ensure_built(e2e_build(release))
    return E2eTools(
        e2e=out / "e2e.test",
        ginkgo=out / "ginkgo",
        kubectl=out / "kubectl",
        version=release,
    )
