"""ARCH-06: pod creation flows apiserver -> etcd -> scheduler -> kubelet."""

import pytest

from gauntlet.checks.arch.pod_flow import check_pod_creation_flow

pytestmark = [pytest.mark.profile("gate")]


@pytest.mark.guarantee("ARCH-06")
def test_new_pods_are_stored_then_scheduled_then_started_within_slo(check):
    """Guarantee: every new pod MUST be stored before the scheduler's
    Scheduled and scheduled before its node's kubelet reports Pulled,
    Created and Started, with startup latency p99 within 5 s."""
    check_pod_creation_flow(check)
