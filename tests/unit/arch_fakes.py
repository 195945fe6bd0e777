"""Fakes for unit tests of the ARCH checks: a cluster, nodes, a context.

Only what the checks under test touch is faked; anything else raises
AttributeError, so a test never passes on a call it did not expect.
"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

from kubernetes import client

from gauntlet.checks.context import CheckContext, Images
from gauntlet.cluster.discovery import ClusterTopology, NodeInfo
from gauntlet.errors import NodeAccessError
from gauntlet.nodes.helper_pods import IMPOSSIBLE

DOOR = "https://10.250.0.1:6443"
REFUSED = f"{IMPOSSIBLE}: a privileged pod is refused: 403 Forbidden"


def topology(control_planes=("cp1", "cp2", "cp3"), workers=("w1",), mode=""):
    nodes = tuple(
        NodeInfo(
            name,
            name in control_planes,
            "v1.33.0",
            "containerd://2.1.0",
            f"10.250.0.{11 + i}",
            "",
        )
        for i, name in enumerate((*control_planes, *workers))
    )
    return ClusterTopology(
        context="test",
        server=DOOR,
        server_version="v1.33.0",
        distribution="kube-gauntlet-lab",
        control_plane_mode=mode or "host-services",
        nodes=nodes,
        etcd_members=(),
        etcd_source="lab",
    )


class FakeCore:
    """The CoreV1Api calls the checks make, answered from lists."""

    def __init__(self, pods=(), nodes=()):
        self.pods = list(pods)
        self.nodes = list(nodes)
        self.created = []

    def list_namespaced_pod(self, namespace, **_kw):
        return client.V1PodList(
            items=[p for p in self.pods if p.metadata.namespace == namespace]
        )

    def list_pod_for_all_namespaces(self, **_kw):
        return client.V1PodList(items=self.pods)

    def list_node(self, **_kw):
        return client.V1NodeList(items=self.nodes)

    def list_namespace(self, **_kw):
        return client.V1NamespaceList(items=[])


def fake_cluster(core=None):
    core = core or FakeCore()
    return SimpleNamespace(
        server=DOOR,
        api=SimpleNamespace(configuration=client.Configuration()),
        core=lambda: core,
    )


class FakeNodes:
    """NodeAccess whose nodes run the given processes (argv lists; PIDs
    from 100 in order), host services unless ``cgroups`` says otherwise."""

    kind = "fake"

    def __init__(self, processes, files=None, cgroups=None):
        self.processes = processes
        self.files = files or {}
        self.cgroups = cgroups or {}

    def run(self, node, argv, timeout_s=60.0):
        if argv[0] == "cat":
            pid = int(argv[1].split("/")[2])
            text = self.cgroups.get((node, pid), "0::/system.slice/x.service")
            return subprocess.CompletedProcess(argv, 0, text + "\n", "")
        lines = [
            f"{100 + i} " + "\x1f".join(a) + "\x1f"
            for i, a in enumerate(self.processes.get(node, []))
        ]
        return subprocess.CompletedProcess(argv, 0, "\n".join(lines), "")

    def read_file(self, node, path):
        try:
            return self.files[path]
        except KeyError:
            raise NodeAccessError(f"reading {path} on {node}: absent") from None


class ImpossibleNodes:
    """NodeAccess that finds out on first use that it cannot work here."""

    kind = "pod"

    def run(self, node, argv, timeout_s=60.0):
        raise NodeAccessError(f"{REFUSED} (helper pod on {node})")


def context(cluster=None, topo=None, nodes=None, unavailable=REFUSED):
    return CheckContext(
        cluster=cluster or fake_cluster(),
        topology=topo or topology(),
        namespace="kg-test",
        images=Images("busybox"),
        nodes=nodes,
        nodes_unavailable=unavailable,
    )


def statuses(ctx):
    return {p.name: p.status for p in ctx.parts}


def pod(
    name, node, namespace="kube-system", labels=None, argv=(), phase="Running"
):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name, namespace=namespace, labels=labels or {}
        ),
        spec=client.V1PodSpec(
            node_name=node,
            containers=[
                client.V1Container(
                    name="c", command=list(argv[:1]), args=list(argv[1:])
                )
            ],
        ),
        status=client.V1PodStatus(phase=phase),
    )
