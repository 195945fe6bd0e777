"""LabNodeAccess with a planned duration: the pod backend's own host
script runs inside the node, against the node's supervisor, so both
backends end a fault the same way (live, on a stand-in node)."""

import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest
from host_fakes import FakeSupervisor, live

from gauntlet.errors import LabError
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.systemctl_shim import shim_binds
from gauntlet.nodes.types import PARTITION


class FakeLab:
    """The parts of LabCluster that LabNodeAccess touches."""

    def __init__(self, pid, socket):
        self.pid = pid
        self.paths = SimpleNamespace(
            node=lambda _name: SimpleNamespace(socket=socket)
        )

    def topology(self):
        return SimpleNamespace(
            node=lambda name: SimpleNamespace(name=name, ip="10.9.9.9")
        )

    def node_pid(self, _name):
        return self.pid


@pytest.fixture
def lab_node(host, tmp_path):
    """(access, supervisor, node name) on the stand-in node, which offers
    the lab node's systemctl (bound in its own mount namespace)."""
    supervisor = FakeSupervisor(tmp_path / "supervisor.sock")
    ((target, source),) = shim_binds(tmp_path, supervisor.path).items()
    bind = ["nsenter", "-t", str(host.pid), "-m", "--", "mount", "--bind"]
    subprocess.run([*bind, source, target], check=True)
    yield LabNodeAccess(FakeLab(host.pid, supervisor.path)), supervisor
    supervisor.close()


@live
def test_the_node_starts_a_planned_stop_again_through_its_supervisor(
    host, lab_node
):
    access, supervisor = lab_node
    access.stop(host.node, "kubelet", for_s=1)
    assert supervisor.ops() == [("status", None), ("stop", "kubelet")]
    restore = access.wait_restored(host.node, "kubelet", margin_s=10)
    assert restore.by == "plan" and restore.planned_s == 1
    assert restore.ended_at - restore.applied_at == pytest.approx(1, abs=0.5)
    assert supervisor.ops()[2:] == [("status", None), ("start", "kubelet")]


@live
def test_an_explicit_start_ends_a_planned_outage_early_for_good(host, lab_node):
    access, supervisor = lab_node
    access.stop(host.node, "kubelet", for_s=1)
    access.start(host.node, "kubelet")
    restore = access.wait_restored(host.node, "kubelet", margin_s=5)
    time.sleep(0.5)  # past the planned start
    assert restore.by == "runner"
    assert supervisor.ops() == [
        ("status", None),
        ("stop", "kubelet"),
        ("start", "kubelet"),
    ]


@live
def test_a_planned_kill_starts_what_the_supervisor_left_down(host, lab_node):
    access, supervisor = lab_node
    access.kill(host.node, "kubelet", for_s=1)
    access.wait_restored(host.node, "kubelet", margin_s=10)
    assert [op for op in supervisor.ops() if op[0] != "status"] == [
        ("kill", "kubelet"),
        ("start", "kubelet"),
    ]
    assert supervisor.requests[1]["signal"] == 9


@live
def test_a_component_the_supervisor_does_not_run_is_not_asked_of_it(
    host, lab_node
):
    """A kubeadm-built lab node: static pods, not the supervisor, run its
    control plane (and this machine has no etcd manifest or unit)."""
    access, supervisor = lab_node
    with pytest.raises(LabError, match="static pod manifest for etcd"):
        access.stop(host.node, "etcd", for_s=30)
    assert supervisor.ops() == [("status", None)]


def iptables_available():
    return shutil.which("iptables") is not None


@live
@pytest.mark.skipif(not iptables_available(), reason="needs iptables")
def test_a_planned_partition_heals_itself_in_the_nodes_network(host, lab_node):
    access, _ = lab_node
    access.partition(host.node, ["10.9.9.9"], for_s=1)
    rules = ["nsenter", "-t", str(host.pid), "-n", "iptables", "-w", "5", "-S"]
    assert (
        "-A KG-PARTITION -d 10.9.9.9/32 -j DROP"
        in subprocess.run(
            rules, capture_output=True, text=True, check=True
        ).stdout
    )
    restore = access.wait_restored(host.node, PARTITION, margin_s=10)
    assert restore.by == "plan"
    left = subprocess.run(rules, capture_output=True, text=True, check=True)
    assert "KG-PARTITION" not in left.stdout
