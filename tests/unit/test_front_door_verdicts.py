"""ARCH-02 and ARCH-12 judge every API server by itself and keep what
they found when another part cannot be observed (issue 10, defects 2, 8a
and 10)."""

import pytest
from arch_fakes import (
    DOOR,
    REFUSED,
    FakeNodes,
    ImpossibleNodes,
    context,
    fake_cluster,
    statuses,
    topology,
)

from gauntlet.checks.arch import _apiservers, _node_agents, front_door, health
from gauntlet.checks.arch._apiservers import Answer, ApiServer
from gauntlet.checks.context import CheckSkipped
from gauntlet.errors import GuaranteeViolated, NodeAccessError

SERVERS = [
    ApiServer(f"cp{i}", f"https://10.250.0.1{i}:6443") for i in (1, 2, 3)
]
KUBELET_CONF = """
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://10.250.0.1:6443"}}]
users: [{name: u, user: {}}]
"""


def answering(statuses_by_host):
    """A fake ``ask``: each server's status by its node name (None: no
    answer)."""

    def ask(_pool, server, _method, _path, *_a, **_kw):
        status = statuses_by_host.get(server.name, 403)
        if status is None:
            return Answer(None, "ConnectTimeoutError: timed out")
        return Answer(status, "{}")

    return ask


@pytest.fixture
def front(monkeypatch):
    """ARCH-02 with only its anonymous part live and three servers."""
    monkeypatch.setattr(front_door, "api_servers", lambda *_a: SERVERS)
    monkeypatch.setattr(front_door, "_invalid_object", lambda *_a: None)
    monkeypatch.setattr(front_door, "_unprivileged_write", lambda *_a: None)
    monkeypatch.setattr(
        front_door,
        "_bindings_for",
        lambda *_a: ["ClusterRoleBinding kg-anon -> cluster-admin"],
    )
    return monkeypatch


@pytest.mark.parametrize(
    "nodes",
    [None, ImpossibleNodes()],
    ids=["refused-before-the-run", "refused-at-first-use"],
)
def test_anonymous_cluster_admin_fails_arch02_when_node_access_is_impossible(
    front, nodes
):
    front.setattr(front_door, "ask", answering({"front door": 200, "cp1": 200}))
    ctx = context(nodes=nodes, unavailable=REFUSED)

    with pytest.raises(GuaranteeViolated) as caught:
        front_door.check_api_server_is_the_front_door(ctx)

    message = str(caught.value)
    assert (
        "anonymous GET /api/v1/namespaces/default/pods answered HTTP 200"
        in (message)
    )
    assert "ClusterRoleBinding kg-anon -> cluster-admin" in message
    assert statuses(ctx)["node agents"] == "unobserved"
    reasons = {p.name: p.reason for p in ctx.parts}
    assert "privileged pod is refused" in reasons["node agents"]


def test_one_api_server_of_three_allowing_anonymous_is_named_by_node_and_url(
    front,
):
    front.setattr(front_door, "ask", answering({"cp2": 200}))
    ctx = context(nodes=None)

    with pytest.raises(GuaranteeViolated) as caught:
        front_door.check_api_server_is_the_front_door(ctx)

    message = str(caught.value)
    assert "at kube-apiserver on cp2 (https://10.250.0.12:6443)" in message
    assert "cp1" not in message and "cp3" not in message
    assert "the front door (" not in message


def test_an_api_server_without_an_answer_is_an_unobserved_part_not_a_pass(
    front,
):
    front.setattr(front_door, "ask", answering({"cp3": None}))
    ctx = context(nodes=None)

    front_door.check_api_server_is_the_front_door(ctx)

    assert statuses(ctx)["anonymous requests at cp3"] == "unobserved"
    assert statuses(ctx)["anonymous requests"] == "checked"


def test_no_api_server_answering_leaves_the_part_unobserved(front):
    silent = dict.fromkeys(("front door", "cp1", "cp2", "cp3"))
    front.setattr(front_door, "ask", answering(silent))
    ctx = context(nodes=None)

    front_door.check_api_server_is_the_front_door(ctx)

    assert statuses(ctx)["anonymous requests"] == "unobserved"
    reason = {p.name: p.reason for p in ctx.parts}["anonymous requests"]
    assert "no API server answered" in reason and "cp3" in reason


def test_the_front_door_is_asked_besides_each_api_server():
    cluster = fake_cluster()
    asked = _apiservers.front_door(cluster, SERVERS)
    assert asked[0].label == f"the front door ({DOOR})"
    assert asked[1:] == SERVERS
    same = [ApiServer("cp1", DOOR)]
    assert _apiservers.front_door(cluster, same) == same


def test_an_unpublished_control_plane_is_asked_at_its_address(monkeypatch):
    monkeypatch.setattr(
        _apiservers.endpoints,
        "apiserver_endpoints",
        lambda _c: {"cp1": "https://10.250.0.11:7443"},
    )
    found = _apiservers.api_servers(fake_cluster(), topology())
    assert [s.url for s in found] == [
        "https://10.250.0.11:7443",
        "https://10.250.0.12:7443",
        "https://10.250.0.13:7443",
    ]


def kubelet(node):
    return ["/opt/k8s/kubelet", "--kubeconfig=/etc/kubernetes/kubelet.conf"]


def test_a_node_without_an_agent_process_is_unobserved_never_a_silent_pass(
    monkeypatch,
):
    monkeypatch.setattr(_node_agents, "_api_ports", lambda _ctx: {6443})
    nodes = FakeNodes(
        {"cp1": [kubelet("cp1")]},
        {"/etc/kubernetes/kubelet.conf": KUBELET_CONF},
    )
    ctx = context(topo=topology(("cp1",), ()), nodes=nodes)

    with ctx.part(_node_agents.PART) as part:
        _node_agents.judge_node_agents(ctx, part)

    assert statuses(ctx) == {
        "node agents not found": "unobserved",
        "node agents": "checked",
    }
    assert "kube-proxy on cp1" in ctx.parts[0].reason


def test_no_agent_process_on_any_node_leaves_the_agent_part_unobserved(
    monkeypatch,
):
    monkeypatch.setattr(_node_agents, "_api_ports", lambda _ctx: {6443})
    ctx = context(nodes=FakeNodes({}))

    with ctx.part(_node_agents.PART) as part:
        _node_agents.judge_node_agents(ctx, part)

    assert statuses(ctx) == {"node agents": "unobserved"}
    assert "kubelet on w1" in ctx.parts[0].reason


def test_an_agent_pointing_at_etcd_or_an_unknown_port_is_a_finding():
    views = [
        _node_agents.AgentView("w1", "kubelet", "https://10.0.0.1:6443", "k"),
        _node_agents.AgentView(
            "w1", "kube-proxy", "https://10.0.0.2:2379", "p"
        ),
        _node_agents.AgentView("w2", "kubelet", "https://10.0.0.1:8080", "k"),
    ]
    found = _node_agents.agent_findings(views, {6443}, set())
    assert found == [
        "kube-proxy on w1 points at etcd (https://10.0.0.2:2379, p)",
        "kubelet on w2 points at https://10.0.0.1:8080 (k), not an API "
        "server port [6443]",
    ]


@pytest.fixture
def healthz(monkeypatch):
    monkeypatch.setattr(health, "api_servers", lambda *_a: SERVERS)

    def ask(_pool, server, _method, path, *_a, **_kw):
        if server.name == "cp3" and path.startswith("/readyz"):
            return Answer(500, "[+]ping ok\n[-]etcd failed: reason withheld\n")
        return Answer(200, "ok")

    monkeypatch.setattr(health, "ask", ask)


class RefusedEtcd:
    def members(self):
        raise NodeAccessError(f"{REFUSED} (helper pod on cp1)")


def hidden(why):
    raise CheckSkipped(f"{why}: etcd is hidden")


@pytest.mark.parametrize(
    "etcd",
    [hidden, lambda _why: RefusedEtcd()],
    ids=["etcd-hidden", "node-access-refused-at-first-use"],
)
def test_a_failing_readyz_fails_arch12_when_etcd_cannot_be_observed(
    healthz, etcd
):
    ctx = context(nodes=None)
    ctx.etcd = etcd

    with pytest.raises(GuaranteeViolated) as caught:
        health.check_health_endpoints_are_green(ctx)

    assert (
        "kube-apiserver on cp3 (https://10.250.0.13:6443) /readyz answered "
        "500: [-]etcd failed: reason withheld"
    ) in str(caught.value)
    assert statuses(ctx) == {
        "API server health": "violated",
        "etcd member health": "unobserved",
    }


def test_a_health_endpoint_without_an_answer_is_a_finding():
    answers = {(SERVERS[0], "/livez?verbose"): Answer(None, "refused")}
    assert health.health_findings(answers) == [
        "kube-apiserver on cp1 (https://10.250.0.11:6443) /livez answered "
        "no answer: refused"
    ]
