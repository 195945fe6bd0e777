"""The load generator sends what the kubernetes client would send.

A kubeconfig whose user authenticates through an exec plugin (EKS, GKE,
AKS) must give the Locust users the plugin's token, renewed when it
expires; before, the runner knew only client certificates and static
tokens, and every request of such a user got 401.
"""

import base64
import json
import sys
import textwrap

import pytest
import yaml
from requests import Request

from gauntlet.errors import UsageError
from gauntlet.load import credentials
from gauntlet.load.credentials import REFRESH_S, Source, resolve

SERVER = "https://api.example.test:6443"
PLUGIN = textwrap.dedent("""
    import datetime, json, pathlib, sys
    calls = pathlib.Path(__file__).with_name("calls")
    n = int(calls.read_text()) + 1 if calls.exists() else 1
    calls.write_text(str(n))
    status = {"token": f"tok-{n}"}
    ttl = sys.argv[1] if len(sys.argv) > 1 else ""
    if ttl:
        when = datetime.datetime.now(datetime.timezone.utc)
        when += datetime.timedelta(seconds=int(ttl))
        status["expirationTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    print(json.dumps({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": status,
    }))
""")


def kubeconfig(tmp_path, user, cluster_extra=None):
    cluster = {"server": SERVER, **(cluster_extra or {})}
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [
                    {"name": "ctx", "context": {"cluster": "c", "user": "u"}}
                ],
                "current-context": "ctx",
            }
        )
    )
    return path


def exec_user(command, args):
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "args": args,
            "interactiveMode": "Never",
        }
    }


def plugin_user(tmp_path, ttl_s=None):
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    return exec_user(sys.executable, [str(script), str(ttl_s or "")])


def calls(tmp_path):
    return int((tmp_path / "calls").read_text())


def test_an_exec_plugin_token_becomes_the_bearer_header(tmp_path):
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": "from-the-plugin"},
    }
    user = exec_user(
        sys.executable, ["-c", f"print({json.dumps(json.dumps(credential))})"]
    )
    path = kubeconfig(tmp_path, user)

    creds = resolve(Source(path, "ctx"))

    assert creds.authorization() == "Bearer from-the-plugin"
    assert creds.server == SERVER
    assert creds.cert is None
    assert creds.verify is True  # system CAs, never unverified by default


def test_the_auth_hook_puts_the_current_token_on_every_request(tmp_path):
    path = kubeconfig(tmp_path, plugin_user(tmp_path))
    creds = resolve(Source(path, "ctx"))

    request = Request("GET", f"{SERVER}/api").prepare()
    creds(request)

    assert request.headers["Authorization"] == "Bearer tok-1"


def test_an_expiring_exec_token_is_renewed_as_the_client_renews_it(tmp_path):
    # Expiring within the client's 5-minute skew: it runs the plugin again.
    path = kubeconfig(tmp_path, plugin_user(tmp_path, ttl_s=60))
    creds = resolve(Source(path, "ctx"))
    before = calls(tmp_path)

    header = creds.authorization()

    assert calls(tmp_path) == before + 1
    assert header == f"Bearer tok-{before + 1}"


def test_a_token_without_expiry_runs_the_plugin_once(tmp_path):
    path = kubeconfig(tmp_path, plugin_user(tmp_path))
    creds = resolve(Source(path, "ctx"))

    for _ in range(3):
        assert creds.authorization() == "Bearer tok-1"
    assert calls(tmp_path) == 1


class Clock:
    """Stands in for ``time.monotonic`` in the credentials module."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(credentials, "monotonic", fake)
    return fake


def test_an_expiring_token_is_asked_again_only_after_the_interval(
    tmp_path, clock
):
    # Before: every request re-applied the kubeconfig (0.7 ms of CPU each)
    # and, within the client's 5-minute skew, reran the plugin each time.
    path = kubeconfig(tmp_path, plugin_user(tmp_path, ttl_s=60))
    creds = resolve(Source(path, "ctx"))
    assert creds.refresh_s == REFRESH_S
    first = creds.authorization()
    ran = calls(tmp_path)

    clock.now += REFRESH_S - 0.1
    assert [creds.authorization() for _ in range(50)] == [first] * 50
    assert calls(tmp_path) == ran

    clock.now += 0.1
    assert creds.authorization() == f"Bearer tok-{ran + 1}"
    assert calls(tmp_path) == ran + 1


def _count_asks(creds):
    asked = []
    hook = creds.configuration.refresh_api_key_hook

    def counting(cfg):
        asked.append(1)
        if hook is not None:
            hook(cfg)

    creds.configuration.refresh_api_key_hook = counting
    return asked


def test_a_static_token_is_read_once(tmp_path, clock):
    path = kubeconfig(tmp_path, {"token": "static"})
    creds = resolve(Source(path, "ctx"))
    asked = _count_asks(creds)

    for _ in range(3):
        assert creds.authorization() == "Bearer static"
        clock.now += 10 * REFRESH_S

    assert creds.refresh_s is None
    assert len(asked) == 1


def test_an_exec_plugin_token_can_change_a_static_one_cannot(tmp_path):
    static = kubeconfig(tmp_path, {"token": "static"})
    # The context's user decides, not the first user in the file.
    two = tmp_path / "two"
    config = yaml.safe_load(static.read_text())
    config["users"].append({"name": "x", "user": plugin_user(tmp_path)})
    config["contexts"].append(
        {"name": "exec", "context": {"cluster": "c", "user": "x"}}
    )
    two.write_text(yaml.safe_dump(config))

    assert resolve(Source(static, None)).refresh_s is None
    assert resolve(Source(two, "ctx")).refresh_s is None
    assert resolve(Source(two, "exec")).refresh_s == REFRESH_S


def test_embedded_client_certificate_and_ca_become_files(tmp_path):
    def b64(text):
        return base64.b64encode(text.encode()).decode()

    user = {
        "client-certificate-data": b64("CERT"),
        "client-key-data": b64("KEY"),
    }
    path = kubeconfig(tmp_path, user, {"certificate-authority-data": b64("CA")})

    creds = resolve(Source(path, "ctx"))

    assert creds.cert is not None
    cert, key = creds.cert
    assert (open(cert).read(), open(key).read()) == ("CERT", "KEY")
    assert isinstance(creds.verify, str) and open(creds.verify).read() == "CA"
    assert creds.authorization() is None


def test_insecure_skip_tls_verify_is_honoured(tmp_path):
    path = kubeconfig(
        tmp_path, {"token": "static"}, {"insecure-skip-tls-verify": True}
    )

    creds = resolve(Source(path, "ctx"))

    assert creds.verify is False
    assert creds.authorization() == "Bearer static"


def test_a_failing_exec_plugin_is_a_usage_error_saying_why(tmp_path):
    user = exec_user(
        sys.executable, ["-c", "import sys; sys.exit('token service down')"]
    )
    path = kubeconfig(tmp_path, user)

    with pytest.raises(UsageError) as caught:
        resolve(Source(path, "ctx"))

    message = str(caught.value)
    assert "no credentials" in message and "ctx" in message
    assert "token service down" in message


def test_an_unknown_context_is_a_usage_error(tmp_path):
    path = kubeconfig(tmp_path, {"token": "static"})

    with pytest.raises(UsageError, match="cannot load credentials"):
        resolve(Source(path, "nope"))


def test_the_source_crosses_into_the_locust_process_by_environment(tmp_path):
    source = Source(tmp_path / "kubeconfig", "ctx")

    assert Source.from_env(source.to_env()) == source
    in_cluster = Source(None, None, in_cluster=True)
    assert Source.from_env(in_cluster.to_env()) == in_cluster
