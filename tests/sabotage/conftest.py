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
from gauntlet.lab.access import LabNodeAccess


@pytest.fixture
def lab_check(
    cluster, test_namespace, probe_namespace, lab
) -> Iterator[CheckContext]:
    """A check context on the lab with direct (lab) node access."""
    yield CheckContext(
        cluster=cluster,
        topology=discover(cluster),
        namespace=test_namespace,
        images=Images.from_env(),
        nodes=LabNodeAccess(lab),
        probe_namespace=probe_namespace,
    )


@pytest.fixture
def restore(defer_cleanup: contextlib.ExitStack) -> contextlib.ExitStack:
    """``defer_cleanup`` by the name the sabotage helpers use: each undo is
    registered right after its sabotage; LIFO, also on failure."""
    return defer_cleanup
