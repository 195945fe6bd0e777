"""ARCH-02: the API server is the front door and validates everything."""

import pytest

from gauntlet.checks.arch.front_door import check_api_server_is_the_front_door

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-02")
def test_api_server_refuses_anonymous_invalid_and_unprivileged_requests(check):
    """Guarantee: every API server, each asked at its own address, MUST
    refuse anonymous reads and writes by a ServiceAccount without RBAC and
    reject an invalid object with 422 without storing it, and it MUST be
    the only server the nodes' kubelet and kube-proxy talk to."""
    check_api_server_is_the_front_door(check)
