"""PART-03: A worker cut off from the masters keeps its pods running."""

import pytest

from gauntlet.checks.chaos.worker_partition import check_worker_partition

pytestmark = [
    pytest.mark.profile("gameday"),
    pytest.mark.disruptive,
    pytest.mark.serial,
]


@pytest.mark.guarantee("PART-03")
@pytest.mark.faults(
    "partition a worker from the control planes and its API address for"
    " 85 s (the node heals itself)"
)
@pytest.mark.usefixtures("workers_settled")
def test_worker_cut_off_from_masters_keeps_pods_and_runs_no_pod_twice(
    check, ledger
):
    """Guarantee: a worker cut off from the control plane MUST go NotReady
    while its containers keep running (watched for 20 s after NotReady);
    no StatefulSet pod MUST run twice, while cut off or after the heal;
    after the heal the worker MUST be Ready."""
    check_worker_partition(check, ledger)
