"""The destructive-run gate refuses unless the target is named."""

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.errors import UsageError
from gauntlet.profiles import get_profile
from gauntlet.safety import check_destructive, check_opt_in, is_protected

GAMEDAY = get_profile("gameday")
GATE = get_profile("gate")


def test_destructive_profile_without_the_flag_is_refused():
    with pytest.raises(UsageError) as err:
        check_destructive(GAMEDAY, "prod", None, protected=False)
    assert str(err.value) == (
        "profile gameday is destructive: pass --allow-destructive <context> "
        "naming the target cluster (its kubeconfig context)"
    )


def test_flag_naming_another_context_is_refused_naming_both():
    with pytest.raises(UsageError) as err:
        check_destructive(GAMEDAY, "prod", "staging", protected=False)
    message = str(err.value)
    assert "--allow-destructive" in message
    assert "'staging'" in message and "'prod'" in message


def test_flag_naming_the_target_context_is_accepted():
    check_destructive(GAMEDAY, "kube-gauntlet-lab", "kube-gauntlet-lab", False)
    check_opt_in(get_profile("load"), "lab", "lab")


def test_non_destructive_profile_needs_no_flag():
    check_destructive(GATE, "prod", None, protected=True)


def test_protected_cluster_is_refused_even_when_named():
    with pytest.raises(UsageError, match="is protected"):
        check_destructive(GAMEDAY, "prod", "prod", protected=True)


class FakeCore:
    def __init__(self, namespace=None, error=None):
        self.namespace = namespace
        self.error = error
        self.calls = 0

    def read_namespace(self, name, **_kwargs):
        self.calls += 1
        assert name == "kube-system"
        if self.error:
            raise self.error
        return self.namespace


class FakeCluster:
    context = "prod"
    server = "https://prod:6443"

    def __init__(self, core):
        self._core = core

    def core(self):
        return self._core


def namespace(labels=None, annotations=None):
    return client.V1Namespace(
        metadata=client.V1ObjectMeta(
            name="kube-system", labels=labels, annotations=annotations
        )
    )


@pytest.mark.parametrize(
    ("labels", "annotations", "expected"),
    [
        (None, None, False),
        ({"kube-gauntlet.io/protected": "true"}, None, True),
        (None, {"kube-gauntlet.io/protected": "True"}, True),
        ({"kube-gauntlet.io/protected": "false"}, None, False),
    ],
)
def test_protection_is_read_with_one_get(labels, annotations, expected):
    core = FakeCore(namespace(labels, annotations))
    assert is_protected(FakeCluster(core)) is expected
    assert core.calls == 1


def test_unreadable_protection_refuses_rather_than_risks():
    core = FakeCore(error=ApiException(status=403, reason="Forbidden"))
    with pytest.raises(UsageError, match="cannot tell whether"):
        is_protected(FakeCluster(core))
