"""Topology discovery's judgements, on API objects built in memory."""

from kubernetes import client

from gauntlet.cluster.discovery import (
    ClusterTopology,
    NodeInfo,
    control_plane_mode,
    etcd_members,
    guess_distribution,
    is_apiserver_pod,
    node_info,
)


def node(name, cp, ip, provider="", kubelet="v1.37.2"):
    return NodeInfo(name, cp, kubelet, "containerd://2.1.0", ip, provider)


def apiserver_pod(host_ip, flag="--etcd-servers=https://127.0.0.1:2379"):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=f"kube-apiserver-{host_ip}",
            labels={"component": "kube-apiserver"},
        ),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="kube-apiserver", command=["kube-apiserver", flag]
                )
            ]
        ),
        status=client.V1PodStatus(host_ip=host_ip),
    )


NODES = (node("cp1", True, "10.0.0.1"), node("w1", False, "10.0.0.2"))


def test_node_info_reads_roles_versions_and_addresses():
    v1 = client.V1Node(
        metadata=client.V1ObjectMeta(
            name="m1", labels={"node-role.kubernetes.io/master": ""}
        ),
        spec=client.V1NodeSpec(provider_id="aws:///eu-west-1a/i-1"),
        status=client.V1NodeStatus(
            addresses=[
                client.V1NodeAddress(address="10.1.1.1", type="InternalIP")
            ],
            node_info=client.V1NodeSystemInfo(
                architecture="amd64",
                boot_id="",
                container_runtime_version="cri-o://1.31",
                kernel_version="",
                kube_proxy_version="",
                kubelet_version="v1.31.0",
                machine_id="",
                operating_system="linux",
                os_image="",
                system_uuid="",
            ),
        ),
    )
    info = node_info(v1)
    assert info == NodeInfo(
        "m1",
        True,
        "v1.31.0",
        "cri-o://1.31",
        "10.1.1.1",
        "aws:///eu-west-1a/i-1",
    )


def test_static_pods_win_and_loopback_etcd_is_named_by_host():
    pods = [apiserver_pod("10.0.0.1")]
    assert all(is_apiserver_pod(p) for p in pods)
    assert control_plane_mode(NODES, pods, []) == "static-pods"
    assert etcd_members(pods, NODES, "kubeadm") == (
        ("https://10.0.0.1:2379",),
        "apiserver-flags",
    )


def test_host_services_when_the_api_endpoints_are_control_plane_nodes():
    assert control_plane_mode(NODES, [], ["10.0.0.1"]) == "host-services"
    assert control_plane_mode(NODES, [], ["192.168.9.9"]) == "unknown"
    assert control_plane_mode(NODES, [], None, pods_visible=False) == "unknown"


def test_no_control_plane_nodes_means_hidden():
    workers = (node("w1", False, "10.0.0.2"),)
    assert control_plane_mode(workers, [], ["34.1.2.3"]) == "hidden"
    assert etcd_members([], workers, "gke") == ((), "unknown")


def test_lab_etcd_is_stacked_on_the_control_planes():
    assert etcd_members([], NODES, "kube-gauntlet-lab") == (
        ("https://10.0.0.1:2379",),
        "lab",
    )


def test_distribution_guesses():
    assert guess_distribution(NODES, "kube-gauntlet-lab", False) == (
        "kube-gauntlet-lab"
    )
    kind = (node("k", True, "1.1.1.1", provider="kind://docker/k/k"),)
    assert guess_distribution(kind, "kind-k", True) == "kind"
    k3s = (node("k", True, "1.1.1.1", kubelet="v1.30.2+k3s1"),)
    assert guess_distribution(k3s, "default", False) == "k3s"
    for provider, name in (("aws://x", "eks"), ("gce://x", "gke")):
        nodes = (node("n", False, "1.1.1.1", provider=provider),)
        assert guess_distribution(nodes, "c", False) == name
    assert guess_distribution(NODES, "c", True) == "kubeadm"
    assert guess_distribution(NODES, "c", False) == "unknown"


def test_environment_properties_name_the_cluster():
    topo = ClusterTopology(
        context="lab",
        server="https://10.250.0.1:6443",
        server_version="v1.37.2",
        distribution="kube-gauntlet-lab",
        control_plane_mode="host-services",
        nodes=NODES,
        etcd_members=("https://10.0.0.1:2379",),
        etcd_source="lab",
    )
    env = topo.to_environment()
    assert env["control_plane.nodes"] == "cp1"
    assert env["workers"] == "w1"
    assert env["etcd.members"] == "https://10.0.0.1:2379"
    assert all(isinstance(v, str) for v in env.values())
