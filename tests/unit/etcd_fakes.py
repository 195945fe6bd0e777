"""In-memory stand-ins for the etcd checks' unit tests: a cluster shape,
node access that answers process listings and metric scrapes, and an etcd
client that answers with a given member list."""

import subprocess

from gauntlet.checks.context import CheckContext, Images
from gauntlet.cluster.discovery import ClusterTopology, NodeInfo
from gauntlet.errors import Unobservable
from gauntlet.observe.etcd import Member

SEP = "\x1f"
IPS = {"cp1": "10.0.0.11", "cp2": "10.0.0.12", "cp3": "10.0.0.13"}


def topology(control_planes=("cp1", "cp2", "cp3"), etcd_members=()):
    nodes = [
        NodeInfo(n, True, "v1.37.2", "containerd://2", IPS[n], "")
        for n in control_planes
    ] + [NodeInfo("w1", False, "v1.37.2", "containerd://2", "10.0.0.21", "")]
    return ClusterTopology(
        context="t",
        server="https://10.0.0.1:6443",
        server_version="v1.37.2",
        distribution="kubeadm",
        control_plane_mode="host-services",
        nodes=tuple(nodes),
        etcd_members=tuple(etcd_members),
        etcd_source="apiserver-flags" if etcd_members else "unknown",
    )


def member(node, member_id="1", learner=False, healthy=True, leader="1"):
    ip = IPS.get(node, "10.9.9.9")
    return Member(
        member_id=member_id,
        name=node,
        client_urls=(f"https://{ip}:2379",),
        peer_urls=(f"https://{ip}:2380",),
        learner=learner,
        node=node if node in IPS else None,
        healthy=healthy,
        error="" if healthy else "connection refused",
        leader_id=leader if healthy else None,
        db_size=1 << 20,
        quota=2 << 30,
    )


class FakeNodes:
    """Node access answering /proc listings and curl scrapes."""

    kind = "fake"

    def __init__(self, processes, metrics=None):
        self.processes = processes
        """node -> list of argv."""
        self.metrics = metrics or {}
        """node -> list of expositions (one per scrape) or an error."""

    def run(self, node, argv, timeout_s=60.0):
        if argv[0] == "curl":
            answers = self.metrics.get(node, "connection refused")
            if isinstance(answers, str):
                return subprocess.CompletedProcess(argv, 7, "", answers)
            return subprocess.CompletedProcess(argv, 0, answers.pop(0), "")
        lines = [
            f"{100 + i} {SEP.join(a)}"
            for i, a in enumerate(self.processes.get(node, []))
        ]
        return subprocess.CompletedProcess(argv, 0, "\n".join(lines), "")


class FakeCtl:
    cacert = "/pki/ca.crt"
    cert = "/pki/client.crt"
    key = "/pki/client.key"


class FakeEtcd:
    """The etcd client a check gets from ``ctx.etcd``."""

    def __init__(self, members=(), hidden="", alarms=()):
        self._members = list(members)
        self.hidden = hidden
        self.alarms = list(alarms)

    def placements(self):
        if self.hidden:
            raise Unobservable(self.hidden)
        return ["here"]

    def members(self):
        return self._members

    def host_ctl(self):
        return FakeCtl()

    def json(self, *args):
        assert args == ("alarm", "list"), args
        return {"alarms": self.alarms}


def context(topo, nodes=None, etcd=None, parts=None):
    return CheckContext(
        cluster=None,
        topology=topo,
        namespace="kg-test",
        images=Images("busybox"),
        nodes=nodes,
        record_part=(parts.append if parts is not None else lambda _p: None),
        _etcd=etcd,
    )


def etcd_argv(node):
    ip = IPS[node]
    return [
        "/usr/local/bin/etcd",
        f"--advertise-client-urls=https://{ip}:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
    ]
