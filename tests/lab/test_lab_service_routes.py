"""Lab nodes reach Service ClusterIPs from their own network namespace.

Real nodes have a default route, so the API server and hostNetwork pods
reach ClusterIPs (kube-proxy rewrites them first). Admission webhooks and
CRD conversion webhooks behind a Service depend on it; upstream
conformance specs test both.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster import workloads
from gauntlet.lab import sh
from gauntlet.lab.cluster import LabCluster

pytestmark = pytest.mark.lab_only

WEBHOOK_PORT = 8443
DENIAL = "this webhook denies all requests"
"""What ``agnhost webhook`` answers on ``/always-deny``."""


def _serving_pair(dns_name: str) -> tuple[bytes, bytes]:
    """A self-signed serving certificate for ``dns_name`` and its key
    (the certificate is its own CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(dns_name)]), False
        )
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def _webhook_server(image: str) -> dict[str, object]:
    """``agnhost webhook`` (the upstream e2e webhook server) on 8443."""
    deployment = workloads.web_deployment("webhook", image, replicas=1)
    pod = deployment["spec"]["template"]["spec"]  # type: ignore[index]
    pod["containers"] = [
        {
            "name": "webhook",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": [
                "/agnhost",
                "webhook",
                "--tls-cert-file=/certs/tls.crt",
                "--tls-private-key-file=/certs/tls.key",
                f"--port={WEBHOOK_PORT}",
            ],
            "ports": [{"containerPort": WEBHOOK_PORT}],
            "readinessProbe": {
                "httpGet": {
                    "path": "/readyz",
                    "port": WEBHOOK_PORT,
                    "scheme": "HTTPS",
                },
                "periodSeconds": 1,
            },
            "volumeMounts": [{"name": "certs", "mountPath": "/certs"}],
        }
    ]
    pod["volumes"] = [{"name": "certs", "secret": {"secretName": "webhook"}}]
    return deployment


def _wait_reachable_from_every_node(lab: LabCluster, ip: str) -> None:
    """kube-proxy on each node programs a new Service on its own time;
    upstream's webhook specs likewise wait for the webhook to answer
    before they test it. Each node must reach it within 60 s."""
    topology = lab.topology()
    assert topology is not None, "the lab is up"
    url = f"https://{ip}:443/readyz"
    deadline = time.monotonic() + 60
    for node in topology.nodes:
        argv = ["curl", "-sk", "--max-time", "2", "-o", "/dev/null", url]
        while True:
            got = sh.run(sh.in_netns(node.netns, argv), check=False)
            if got.returncode == 0:
                break
            assert time.monotonic() < deadline, (
                f"{node.name} does not reach {url} after 60 s: "
                f"curl exit {got.returncode}"
            )
            time.sleep(0.5)


@pytest.fixture
def denying_webhook(
    lab: LabCluster, cluster, test_namespace, images
) -> Iterator[client.V1Service]:
    """A validating webhook behind a Service that denies every ConfigMap
    written in the test namespace; removed afterwards."""
    core, apps, ns = cluster.core(), cluster.apps(), test_namespace
    cert, key = _serving_pair(f"webhook.{ns}.svc")
    core.create_namespaced_secret(
        ns,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="webhook"),
            type="kubernetes.io/tls",
            string_data={"tls.crt": cert.decode(), "tls.key": key.decode()},
        ),
    )
    apps.create_namespaced_deployment(ns, _webhook_server(images.workload))
    service = core.create_namespaced_service(
        ns, workloads.cluster_ip_service("webhook", 443, WEBHOOK_PORT)
    )
    workloads.wait_deployment_ready(apps, ns, "webhook")
    _wait_reachable_from_every_node(lab, service.spec.cluster_ip)
    config_name = f"deny-configmaps-{ns}"
    admission = client.AdmissionregistrationV1Api(cluster.api)
    admission.create_validating_webhook_configuration(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": config_name},
            "webhooks": [
                {
                    "name": "deny.kube-gauntlet.test",
                    "clientConfig": {
                        "service": {
                            "namespace": ns,
                            "name": "webhook",
                            "path": "/always-deny",
                            "port": 443,
                        },
                        "caBundle": base64.b64encode(cert).decode(),
                    },
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": ns}
                    },
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 10,
                }
            ],
        }
    )
    try:
        _wait_webhook_in_effect(core, ns)
        yield service
    finally:
        admission.delete_validating_webhook_configuration(config_name)


def _wait_webhook_in_effect(core: client.CoreV1Api, ns: str) -> None:
    """API servers load a new webhook configuration from their informers;
    like upstream's waitWebhookConfigurationReady, write markers until
    one is denied (30 s at most)."""
    deadline = time.monotonic() + 30
    for i in range(1000):
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"m{i}"))
        try:
            core.create_namespaced_config_map(ns, body)
        except ApiException as exc:
            if DENIAL in (exc.body or ""):
                return
        assert time.monotonic() < deadline, "the webhook never took effect"
        time.sleep(0.2)


def test_every_node_has_a_route_for_the_service_range(
    lab: LabCluster, denying_webhook: client.V1Service
) -> None:
    ip = denying_webhook.spec.cluster_ip
    topology = lab.topology()
    assert topology is not None, "the lab is up"
    for node in topology.nodes:
        argv = sh.in_netns(node.netns, ["ip", "route", "get", ip])
        got = sh.run(argv, check=False)
        assert got.returncode == 0, f"{node.name}: {got.stderr.strip()}"


def test_the_api_server_calls_an_admission_webhook_behind_a_service(
    cluster, test_namespace, denying_webhook
) -> None:
    """Each write goes through the load balancer to any of the API
    servers; every one of them must reach the webhook and be denied."""
    core = cluster.core()
    answers = []
    for i in range(6):
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}"))
        try:
            core.create_namespaced_config_map(test_namespace, body)
            answers.append("created: the webhook was not called")
        except ApiException as exc:
            answers.append(f"{exc.status}: {exc.body}")
    assert all(DENIAL in a for a in answers), "\n".join(answers)
