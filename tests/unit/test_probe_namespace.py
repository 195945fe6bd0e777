"""Write probes go to namespaces of the run's own, never ``default``, and
are made through every API server they may be written through."""

from types import SimpleNamespace

from gauntlet.checks.chaos import writes
from gauntlet.checks.context import CheckContext, Images
from gauntlet.cluster.discovery import ClusterTopology, NodeInfo
from gauntlet.observe.history import HistoryRecorder

RUN = "20260101T000000Z-abc123"
LB = "https://10.250.0.1:6443"
CP1, CP2, CP3 = (f"https://10.250.0.1{i}:6443" for i in (1, 2, 3))


def node(name, ip, control_plane=True):
    return NodeInfo(name, control_plane, "v1.33.0", "containerd://2", ip, "")


TOPOLOGY = ClusterTopology(
    context="kube-gauntlet-lab",
    server=LB,
    server_version="v1.33.0",
    distribution="kube-gauntlet-lab",
    control_plane_mode="host-services",
    nodes=(
        node("cp1", "10.250.0.11"),
        node("cp2", "10.250.0.12"),
        node("cp3", "10.250.0.13"),
        node("w1", "10.250.0.21", control_plane=False),
    ),
    etcd_members=(),
    etcd_source="lab",
)


def ctx(probe_namespace=""):
    return CheckContext(
        cluster=None,  # type: ignore[arg-type]  # naming needs no cluster
        topology=TOPOLOGY,
        namespace="kg-0a1b2c",
        images=Images.from_env(),
        probe_namespace=probe_namespace,
    )


def test_write_probes_go_to_the_runs_probe_namespace_not_default():
    name = writes.run_probe_namespace(RUN)
    assert name == "kg-probes-20260101t000000z-abc123"
    where = writes.namespace_for(ctx(name), writes.PROBE_NAMESPACE)
    assert where == name != "default"


def test_without_a_probe_namespace_probes_stay_in_the_tests_namespace():
    assert writes.namespace_for(ctx(), writes.PROBE_NAMESPACE) == "kg-0a1b2c"
    assert writes.namespace_for(ctx(), None) == "kg-0a1b2c"
    assert writes.probe_namespace(ctx()) == "kg-0a1b2c"


def test_a_long_run_id_still_makes_a_valid_namespace_name():
    name = writes.run_probe_namespace("Chaos_" + "x" * 80)
    assert len(name) <= 63 and name.startswith("kg-probes-chaos-x")
    assert not name.endswith("-")


def test_an_api_server_missing_from_the_endpoint_slices_is_written_too():
    """A split-brain API server publishes itself only in its own store:
    the namespace must be made through it all the same."""
    published = {"cp1": CP1, "cp2": CP2}
    assert writes.every_apiserver(published, TOPOLOGY) == [CP1, CP2, CP3]


def test_the_recorder_makes_its_namespace_through_every_server_it_writes():
    recorder = HistoryRecorder(
        SimpleNamespace(server=LB),  # type: ignore[arg-type]
        {"cp1": CP1, "lb": LB},
        "kg-probes-r1",
    )
    assert recorder.namespace_urls([CP1, CP2, CP3]) == [LB, CP1, CP2, CP3]
