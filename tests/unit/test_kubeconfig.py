"""Kubeconfig problems are one clear line, found without any cluster."""

import textwrap

import pytest

from gauntlet.cluster.client import ClusterTarget, connect, context_name
from gauntlet.cluster.kubeconfig import read_kubeconfig
from gauntlet.errors import UsageError

GOOD = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Config
    clusters:
    - name: lab
      cluster: {server: "https://127.0.0.1:1"}
    - name: prod
      cluster: {server: "https://prod.example:6443"}
    users:
    - name: me
      user: {token: abc}
    contexts:
    - name: lab
      context: {cluster: lab, user: me}
    - name: prod
      context: {cluster: prod, user: me}
    current-context: lab
    """
)


def write(tmp_path, text):
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    return path


def test_missing_file_names_the_path_and_the_flag(tmp_path):
    path = tmp_path / "nope"
    with pytest.raises(UsageError) as err:
        read_kubeconfig(path, None)
    message = str(err.value)
    assert message.startswith(f"kubeconfig {path} does not exist: ")
    assert "--kubeconfig" in message


def test_invalid_yaml_is_malformed_with_the_line(tmp_path):
    path = write(tmp_path, "clusters: [\n  - name: a\n")
    with pytest.raises(UsageError) as err:
        read_kubeconfig(path, None)
    assert str(err.value).startswith(f"kubeconfig {path} is malformed: ")
    assert "line" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("just a string\n", "not a YAML mapping"),
        ("clusters: []\ncontexts: []\n", "it defines no clusters"),
        ("clusters: {}\n", "'clusters' is not a list"),
        (
            "clusters:\n- name: a\n  cluster: {}\ncontexts:\n- name: c\n"
            "  context: {cluster: a}\ncurrent-context: c\n",
            "cluster 'a' has no server URL",
        ),
        (
            "clusters:\n- name: a\n  cluster: {server: x}\ncontexts:\n"
            "- name: c\n  context: {cluster: b}\ncurrent-context: c\n",
            "context 'c' names an undefined cluster 'b'",
        ),
    ],
)
def test_structural_problems_are_malformed(tmp_path, text, reason):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        read_kubeconfig(path, None)
    assert str(err.value) == f"kubeconfig {path} is malformed: {reason}"


def test_unknown_context_lists_the_available_ones(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(UsageError) as err:
        read_kubeconfig(path, "staging")
    assert str(err.value) == (
        f"kubeconfig {path} has no context 'staging': pass --context with "
        "one of lab, prod"
    )


def test_context_and_server_resolve_without_a_cluster(tmp_path):
    path = write(tmp_path, GOOD)
    info = read_kubeconfig(path, "prod")
    assert (info.context, info.cluster, info.server) == (
        "prod",
        "prod",
        "https://prod.example:6443",
    )
    assert read_kubeconfig(path, None).context == "lab"
    assert context_name(ClusterTarget(path)) == "lab"
    assert context_name(ClusterTarget(path, "prod")) == "prod"


def test_connect_checks_the_file_before_contacting_anything(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        connect(ClusterTarget(tmp_path / "nope"))
    with pytest.raises(UsageError, match="no context 'x'"):
        connect(ClusterTarget(write(tmp_path, GOOD), "x"))


def test_default_kubeconfig_follows_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{path}")
    assert ClusterTarget().kubeconfig_path == path
