"""Upgrades: the lab booted at the previous release, checked before and
while it is upgraded to the current one.

Runs after tests/lifecycle (scripts/test.sh orders it): it replaces the
services lab with one at ``PREVIOUS`` (built once, cached), runs the
preupgrade checks and their sabotages on it, and the rehearsal module
(last, by name) upgrades it to ``CURRENT``. Everything reaches the lab
through fixtures of this directory, never the session's ``cluster``,
which belongs to the lab the earlier directories used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from kubernetes import client

from gauntlet.checks.context import CheckContext, Images
from gauntlet.cluster.client import Cluster, ClusterTarget, connect
from gauntlet.cluster.discovery import ClusterTopology, discover
from gauntlet.errors import GauntletError
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.versions import PREVIOUS
from gauntlet.wellknown import LAB_NAME

SHAPE = (3, 2)


@pytest.fixture(scope="session")
def old_lab() -> LabCluster:
    """A 3+2 services lab at the previous release (reused when up)."""
    lab = LabCluster(release=PREVIOUS)
    if lab.running_release() == PREVIOUS and lab.healthy():
        return lab
    try:
        lab.up(*SHAPE)
    except GauntletError as exc:
        pytest.fail(
            f"lab up --version {PREVIOUS.kubernetes}: {exc}", pytrace=False
        )
    return lab


@pytest.fixture(scope="session")
def old_cluster(old_lab: LabCluster) -> Iterator[Cluster]:
    connected = connect(ClusterTarget(old_lab.paths.kubeconfig, LAB_NAME))
    yield connected
    connected.close()


@pytest.fixture(scope="session")
def old_topology(old_cluster: Cluster) -> ClusterTopology:
    return discover(old_cluster)


@pytest.fixture
def old_namespace(old_cluster: Cluster) -> Iterator[str]:
    core = old_cluster.core()
    name = f"kg-upg-{os.urandom(3).hex()}"
    core.create_namespace(client.V1Namespace(metadata={"name": name}))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def old_check(
    old_lab: LabCluster,
    old_cluster: Cluster,
    old_topology: ClusterTopology,
    old_namespace: str,
) -> CheckContext:
    """A check context on the old lab with lab node access."""
    return CheckContext(
        cluster=old_cluster,
        topology=old_topology,
        namespace=old_namespace,
        images=Images.from_env(),
        nodes=LabNodeAccess(old_lab),
    )


@pytest.fixture
def restore() -> Iterator[contextlib.ExitStack]:
    """Each undo registered right after its sabotage; LIFO, on failure too."""
    with contextlib.ExitStack() as stack:
        yield stack
