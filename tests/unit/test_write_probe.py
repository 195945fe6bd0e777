"""A cluster that refuses writes is named once, with the API's reason.

Issue 10, defect 11: when the API answered writes with 500, every test
errored in setup with a bare ServiceException and no diagnosis. The probe
tells a refusal (5xx, an admission refusal) from an ordinary error
(RBAC, a conflict), which must still be raised.
"""

import json

import pytest
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.write_probe import (
    PROBE_OBJECT,
    WriteRefusal,
    api_message,
    probe_writes,
    refusal_of,
)

NOSPACE = "etcdserver: mvcc: database space exceeded"
WEBHOOK = (
    'Internal error occurred: failed calling webhook "deny.example.com": '
    'Post "https://10.250.0.1:1/": dial tcp 10.250.0.1:1: connect: '
    "connection refused"
)


def api_error(status, message=None, reason="Error"):
    exc = ApiException(status=status, reason=reason)
    if message is not None:
        exc.body = json.dumps(
            {"kind": "Status", "status": "Failure", "message": message}
        )
    return exc


class FakeCore:
    """CoreV1Api that fails the calls named in ``failures``."""

    def __init__(self, **failures):
        self.failures = failures
        self.calls = []

    def _call(self, name, *args):
        self.calls.append((name, *args))
        if name in self.failures:
            raise self.failures[name]

    def create_namespace(self, body):
        self._call("create_namespace", body.metadata.name)

    def create_namespaced_config_map(self, namespace, body):
        self._call(
            "create_namespaced_config_map", namespace, body.metadata.name
        )

    def delete_namespace(self, name):
        self._call("delete_namespace", name)


def test_a_server_error_is_a_refusal_with_the_apis_message():
    refusal = refusal_of("create namespace kg-x", api_error(500, NOSPACE))
    assert refusal == WriteRefusal("create namespace kg-x", 500, NOSPACE)
    assert str(refusal) == f"create namespace kg-x: 500 {NOSPACE}"


def test_a_failing_admission_webhook_is_a_refusal():
    assert refusal_of("w", api_error(500, WEBHOOK)).message == WEBHOOK


def test_a_webhook_that_denies_is_a_refusal_though_not_a_server_error():
    denied = 'admission webhook "deny.example.com" denied the request: no'
    assert refusal_of("w", api_error(400, denied)).status == 400


def test_a_validating_admission_policy_denial_is_a_refusal():
    denied = (
        'namespaces "kg-x" is forbidden: ValidatingAdmissionPolicy '
        "'no-ns' with binding 'b' denied request: no"
    )
    assert refusal_of("w", api_error(403, denied)) is not None


def test_rbac_forbidden_and_conflicts_are_errors_not_refusals():
    rbac = 'namespaces is forbidden: User "me" cannot create resource'
    assert refusal_of("w", api_error(403, rbac)) is None
    assert refusal_of("w", api_error(409, "already exists")) is None


def test_without_a_status_body_the_http_reason_is_the_message():
    exc = api_error(503, reason="Service Unavailable")
    assert api_message(exc) == "Service Unavailable"
    assert api_message(ApiException(status=500, reason="")) == "HTTP 500"


def test_an_accepting_cluster_gets_its_probe_namespace_deleted():
    core = FakeCore()
    assert probe_writes(core, "kg-probe-1", {"run": "r"}) is None
    assert core.calls == [
        ("create_namespace", "kg-probe-1"),
        ("create_namespaced_config_map", "kg-probe-1", PROBE_OBJECT),
        ("delete_namespace", "kg-probe-1"),
    ]


def test_a_refused_namespace_is_reported_and_nothing_is_left():
    core = FakeCore(create_namespace=api_error(500, NOSPACE))
    refusal = probe_writes(core, "kg-probe-1", {})
    assert refusal == WriteRefusal("create namespace kg-probe-1", 500, NOSPACE)
    assert [c[0] for c in core.calls] == ["create_namespace"]


def test_a_refused_object_is_reported_and_its_namespace_deleted():
    core = FakeCore(create_namespaced_config_map=api_error(500, WEBHOOK))
    refusal = probe_writes(core, "kg-probe-1", {})
    assert refusal is not None
    assert refusal.what == f"create configmap kg-probe-1/{PROBE_OBJECT}"
    assert core.calls[-1] == ("delete_namespace", "kg-probe-1")


def test_a_refused_delete_is_a_refusal_too():
    core = FakeCore(delete_namespace=api_error(500, NOSPACE))
    refusal = probe_writes(core, "kg-probe-1", {})
    assert refusal == WriteRefusal("delete namespace kg-probe-1", 500, NOSPACE)


def test_an_ordinary_error_is_raised_not_turned_into_a_verdict():
    rbac = api_error(403, 'User "me" cannot create resource "namespaces"')
    with pytest.raises(ApiException) as raised:
        probe_writes(FakeCore(create_namespace=rbac), "kg-probe-1", {})
    assert raised.value is rbac


def test_an_ordinary_error_on_the_object_still_deletes_the_namespace():
    conflict = api_error(409, "already exists")
    core = FakeCore(create_namespaced_config_map=conflict)
    with pytest.raises(ApiException):
        probe_writes(core, "kg-probe-1", {})
    assert core.calls[-1] == ("delete_namespace", "kg-probe-1")
