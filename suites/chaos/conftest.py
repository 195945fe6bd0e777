"""Fixtures for the RES and PART suites."""

import pytest

from gauntlet.checks.context import CheckSkipped


@pytest.fixture
def etcd_members(check) -> int:
    """How many etcd members the cluster has (skip when etcd is hidden)."""
    count = len(check.topology.etcd_members)
    if count == 0:
        raise CheckSkipped("etcd members are not visible on this cluster")
    return count


@pytest.fixture
def settled(check, etcd_members) -> int:
    """Start from a healthy control plane (an earlier fault may still be
    recovering); the etcd member count."""
    from gauntlet.checks.chaos import _support

    check.require_nodes("checking the control plane")
    _support.wait_control_plane_healthy(check, etcd_members)
    return etcd_members
