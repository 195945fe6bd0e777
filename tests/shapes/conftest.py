"""Cluster shapes: the lab booted as another kind of cluster, met by kubeconfig.

Each module names its ``FLAVOR``; the module's lab is booted in it (or
reused), and everything under test reaches it as a user's cluster of
that kind: its kubeconfig and the pod backend, never the lab backend,
lab paths or the lab's names. Only the sabotage tools, which stand for
an operator breaking the cluster, touch the lab's files.

Runs after tests/lifecycle (scripts/test.sh orders it): it replaces the
services lab, and the last module leaves no lab behind.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from gauntlet import backends
from gauntlet.checks.context import CheckContext, Images
from gauntlet.cluster.client import Cluster, ClusterTarget, connect
from gauntlet.cluster.discovery import ClusterTopology, discover
from gauntlet.errors import GauntletError
from gauntlet.faults.ledger import FaultLedger
from gauntlet.faults.mirror import ConfigMapMirror
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.versions import CURRENT
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient
from gauntlet.runid import new_run_id

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).parents[1] / "sabotage"))
sys.path.insert(0, str(Path(__file__).parents[1] / "lifecycle"))

SHAPES = {"kubeadm": (3, 2), "managed": (3, 2)}


@pytest.fixture(scope="module")
def shaped_lab(request: pytest.FixtureRequest) -> LabCluster:
    """The lab in the module's ``FLAVOR`` (reused when already up)."""
    flavor = request.module.FLAVOR
    lab = LabCluster(release=CURRENT)
    try:
        lab.up(*SHAPES[flavor], flavor=flavor)
    except GauntletError as exc:
        pytest.fail(f"lab up --flavor {flavor}: {exc}", pytrace=False)
    return lab


@pytest.fixture(scope="module")
def kubeconfig(shaped_lab: LabCluster) -> Path:
    return shaped_lab.paths.kubeconfig


@pytest.fixture(scope="module")
def shaped_cluster(kubeconfig: Path) -> Iterator[Cluster]:
    """The cluster as its kubeconfig's current context shows it."""
    connected = connect(ClusterTarget(kubeconfig, None))
    yield connected
    connected.close()


@pytest.fixture(scope="module")
def shaped_topology(shaped_cluster: Cluster) -> ClusterTopology:
    return discover(shaped_cluster)


@pytest.fixture(scope="module")
def shaped_run_id() -> str:
    return new_run_id()


@pytest.fixture(scope="module")
def shaped_ledger(
    shaped_cluster: Cluster, shaped_run_id: str
) -> Iterator[FaultLedger]:
    ledger = FaultLedger(
        shaped_run_id, mirror=ConfigMapMirror(shaped_cluster, shaped_run_id)
    )
    yield ledger
    ledger.rollback_all(objects=True)


@pytest.fixture(scope="module")
def pod_access(
    shaped_cluster: Cluster, shaped_run_id: str
) -> Iterator[NodeAccess]:
    """The pod backend: all a user's cluster offers the suite."""
    access = backends.node_access("pod", shaped_cluster, shaped_run_id)
    yield access
    backends.cleanup_all()


@pytest.fixture(scope="module")
def shaped_etcd(
    shaped_cluster: Cluster,
    shaped_topology: ClusterTopology,
    pod_access: NodeAccess,
) -> EtcdClient:
    return EtcdClient(shaped_cluster, shaped_topology, pod_access)


@pytest.fixture
def shaped_namespace(shaped_cluster: Cluster) -> Iterator[str]:
    core = shaped_cluster.core()
    name = f"kg-shape-{os.urandom(3).hex()}"
    core.create_namespace(client.V1Namespace(metadata={"name": name}))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def shaped_check(
    shaped_cluster: Cluster,
    shaped_topology: ClusterTopology,
    shaped_namespace: str,
    pod_access: NodeAccess,
) -> CheckContext:
    """A check context on the shaped lab through the pod backend."""
    return CheckContext(
        cluster=shaped_cluster,
        topology=shaped_topology,
        namespace=shaped_namespace,
        images=Images.from_env(),
        nodes=pod_access,
    )


@pytest.fixture
def restore() -> Iterator[contextlib.ExitStack]:
    """Each undo registered right after its sabotage; LIFO, on failure too."""
    with contextlib.ExitStack() as stack:
        yield stack
