"""Sabotage tests: break one guarantee on the lab, see the check catch it.

Each test breaks the lab, runs the same check function the suite runs,
expects ``GuaranteeViolated`` with a message naming what is broken, then
restores the lab (also on failure) and sees the check pass again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator

import pytest

from gauntlet.checks.context import CheckContext, Images
from gauntlet.cluster import workloads
from gauntlet.cluster.discovery import discover
from gauntlet.lab.faults import LabFaults
from gauntlet.nodes.lab_backend import LabNodeAccess


@pytest.fixture
def lab_check(cluster, test_namespace, lab) -> Iterator[CheckContext]:
    """A check context on the lab with direct (lab) node access."""
    yield CheckContext(
        cluster=cluster,
        topology=discover(cluster),
        namespace=test_namespace,
        images=Images.from_env(),
        nodes=LabNodeAccess(LabFaults(lab)),
    )


@pytest.fixture
def restore() -> Iterator[contextlib.ExitStack]:
    """Undo steps registered right after each sabotage; LIFO, on failure."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def lab_check_again(cluster, lab_check) -> Iterator[CheckContext]:
    """The same context in a second namespace: checks that create their
    workloads under fixed names run there after the restore."""
    core = cluster.core()
    name = f"kg-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name}})
    workloads.ensure_service_account(core, name)
    try:
        yield dataclasses.replace(lab_check, namespace=name)
    finally:
        core.delete_namespace(name)
