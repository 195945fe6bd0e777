"""A write the cluster refused or never answered means "not writable";
any other failure is an error, never a ``False`` (RES-06, RES-07)."""

import ssl
from types import SimpleNamespace

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from gauntlet.checks.chaos import control_plane, writes
from gauntlet.errors import ClusterOperationFailed

URL = "https://10.250.0.1:6443/api/v1/namespaces/default/configmaps"


def retried(reason):
    return urllib3.exceptions.MaxRetryError(None, URL, reason)


REFUSALS = {
    "500 from an API server without etcd": ApiException(500, "Internal"),
    "503 while shutting down": ApiException(503, "Service Unavailable"),
    "504 etcd timeout": ApiException(504, "Gateway Timeout"),
    "429 overloaded": ApiException(429, "Too Many Requests"),
    "connection refused": retried(
        urllib3.exceptions.NewConnectionError(None, "[Errno 111] refused")
    ),
    "connect timeout": retried(
        urllib3.exceptions.ConnectTimeoutError(None, "timed out")
    ),
    "balancer without backends": retried(
        urllib3.exceptions.SSLError(ssl.SSLEOFError(8, "EOF"))
    ),
    "connection reset": urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError()
    ),
    "read timeout": urllib3.exceptions.ReadTimeoutError(None, URL, "read"),
}
NOT_ANSWERS = {
    "401 bad credentials": ApiException(401, "Unauthorized"),
    "403 RBAC": ApiException(403, "Forbidden"),
    "404 no such namespace": ApiException(404, "Not Found"),
    "422 invalid object": ApiException(422, "Unprocessable Entity"),
    "untrusted certificate": retried(
        urllib3.exceptions.SSLError(
            ssl.SSLCertVerificationError(1, "certificate verify failed")
        )
    ),
    "unknown host": retried(
        urllib3.exceptions.NameResolutionError("api.example", None, OSError())
    ),
}


@pytest.mark.parametrize("exc", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_or_unanswered_write_is_a_refusal(exc):
    assert writes.refused(exc)


@pytest.mark.parametrize("exc", NOT_ANSWERS.values(), ids=NOT_ANSWERS.keys())
def test_a_client_side_failure_is_not_a_refusal(exc):
    assert not writes.refused(exc)


def check_context():
    return SimpleNamespace(cluster=SimpleNamespace(server="https://lb:6443"))


def failing(exc):
    def write(ctx, endpoint, timeout_s):
        raise exc

    return write


def test_a_forbidden_write_during_the_blackout_is_an_error_not_false(
    monkeypatch,
):
    monkeypatch.setattr(writes, "writable", failing(ApiException(403, "no")))
    with pytest.raises(ClusterOperationFailed) as caught:
        control_plane._writable(check_context())
    assert str(caught.value) == (
        "create a ConfigMap through https://lb:6443 in namespace kg-probes: "
        "403 no"
    )


def test_a_write_the_balancer_cut_off_is_not_writable(monkeypatch):
    cut = REFUSALS["balancer without backends"]
    monkeypatch.setattr(writes, "writable", failing(cut))
    assert control_plane._writable(check_context()) is False


def test_a_bug_in_the_write_propagates(monkeypatch):
    monkeypatch.setattr(writes, "writable", failing(TypeError("bug")))
    with pytest.raises(TypeError):
        control_plane._writable(check_context(), "https://10.250.0.12:6443")
