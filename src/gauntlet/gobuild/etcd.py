"""The recipe for etcd, etcdctl and etcdutl of one etcd release.

The lab builds its etcd from it, and a check that restores a snapshot
builds the release a cluster's member runs (on the runner, cached like
every build), so a restore drill never needs a binary from the cluster.
"""

from __future__ import annotations

import re

from gauntlet.errors import UsageError
from gauntlet.gobuild.build import GoBuild

__all__ = ["ETCD_MAIN", "MODULES", "etcd_build", "etcd_tag"]

ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""
"""etcd's server main: ``go.etcd.io/etcd/server/v3`` has no main package
of its own to build (upstream's lives in the unpublished root module)."""

MODULES = (
    "go.etcd.io/etcd/server/v3",
    "go.etcd.io/etcd/etcdctl/v3",
    "go.etcd.io/etcd/etcdutl/v3",
)
"""The published modules: the server (built through ``ETCD_MAIN``) and
the two command-line tools, built as they are."""
_TAG = re.compile(r"^v?(3\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")


def etcd_tag(version: str) -> str:
    """The module tag of an etcd release: ``3.7.3`` (as a member reports
    it) or ``v3.7.3`` -> ``v3.7.3``.

    Raises:
        UsageError: not an etcd v3 release version.
    """
    found = _TAG.match(version.strip())
    if found is None:
        raise UsageError(
            f"etcd version {version!r}: expected an etcd v3 release such "
            "as v3.7.3"
        )
    return f"v{found.group(1)}"


def etcd_build(version: str) -> GoBuild:
    """etcd (server main), etcdctl and etcdutl at ``version``, from
    ``go.etcd.io/etcd/{server,etcdctl,etcdutl}/v3``.

    Raises:
        UsageError: ``version`` is not an etcd v3 release.
    """
    tag = etcd_tag(version)
    return GoBuild(
        name="etcd",
        version=tag,
        requires=tuple((m, tag) for m in MODULES),
        packages=(".", *MODULES[1:]),
        sources={"main.go": ETCD_MAIN},
    )
