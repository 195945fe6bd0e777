"""Sabotage tests: break one guarantee on the lab, see the check catch it.

Each test breaks the lab, runs the same check function the suite runs,
expects ``GuaranteeViolated`` with a message naming what is broken, then
restores the lab (also on failure). The ARCH tests then see the check
pass again; for RES and PART the restore waits until the lab is healthy,
and the gameday e2e run shows every check passing on a healthy lab.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from gauntlet.checks.context import CheckContext, Images
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
