"""ARCH-12: health endpoints are green."""

import pytest

from gauntlet.checks.arch.health import check_health_endpoints_are_green

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-12")
@pytest.mark.readonly
def test_every_api_server_is_ready_and_live_and_etcd_healthy(check):
    """Guarantee: /readyz and /livez MUST pass on every API server and every
    etcd member MUST report healthy."""
    check_health_endpoints_are_green(check)
