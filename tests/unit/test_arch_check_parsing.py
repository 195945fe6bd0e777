"""The ARCH checks' pure parsing: metrics, kubeconfigs, flags, addresses."""

import base64

import pytest

from gauntlet.checks.arch import _metrics as m
from gauntlet.checks.arch._etcd_clients import Finding, host_of, persistent
from gauntlet.checks.arch._tls_probe import Probe, _http_verdict
from gauntlet.observe.host import (
    component_of,
    flag_value,
    parse_kubeconfig,
)

FSYNC = "etcd_disk_wal_fsync_duration_seconds"


def exposition(counts):
    lines = [f'{FSYNC}_bucket{{le="{le}"}} {n}' for le, n in counts.items()]
    return "# HELP x\n" + "\n".join(lines) + "\netcd_server_has_leader 1\n"


def test_quantile_interpolates_within_the_bucket_like_prometheus():
    first = m.parse(exposition({"0.001": 0, "0.002": 0, "+Inf": 0}))
    last = m.parse(exposition({"0.001": 50, "0.002": 100, "+Inf": 100}))
    deltas = m.bucket_deltas(first, last, FSYNC)
    assert m.histogram_quantile(0.5, deltas) == pytest.approx(0.001)
    assert m.histogram_quantile(0.99, deltas) == pytest.approx(0.00198)


def test_quantile_without_observations_is_unknown():
    same = m.parse(exposition({"0.001": 7, "+Inf": 7}))
    assert (
        m.histogram_quantile(0.99, m.bucket_deltas(same, same, FSYNC)) is None
    )


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound():
    last = m.parse(exposition({"0.001": 0, "0.002": 1, "+Inf": 100}))
    empty = m.parse("")
    assert m.histogram_quantile(
        0.99, m.bucket_deltas(empty, last, FSYNC)
    ) == pytest.approx(0.002)


def test_value_sums_label_sets_and_defaults_to_zero():
    samples = m.parse('a{x="1"} 2\na{x="2"} 3\n')
    assert m.value(samples, "a") == 5
    assert m.value(samples, "missing") == 0


def test_kubeconfig_yields_server_and_embedded_or_referenced_pems():
    text = f"""
current-context: c
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
clusters: [{{name: k, cluster: {{server: "https://10.0.0.1:6443"}}}}]
users:
- name: u
  user:
    client-certificate-data: {base64.b64encode(b"CERT").decode()}
    client-key: pki/key.pem
"""
    read = {"/etc/kubernetes/pki/key.pem": "KEY"}.__getitem__
    view = parse_kubeconfig("/etc/kubernetes/kubelet.conf", text, read)
    assert (view.server, view.port, view.host) == (
        "https://10.0.0.1:6443",
        6443,
        "10.0.0.1",
    )
    assert (view.cert_pem, view.key_pem) == ("CERT", "KEY")


def test_flags_and_component_names_come_from_argv():
    argv = ["/usr/bin/etcd", "--name", "cp1", "--quota-backend-bytes=5"]
    assert flag_value(argv, "name") == "cp1"
    assert flag_value(argv, "quota-backend-bytes") == "5"
    assert flag_value(argv, "absent") is None
    assert component_of("/opt/bin/kube-controller-manager --v=1") == (
        "kube-controller-manager"
    )
    assert component_of("etcdctl watch x") is None


def test_addresses_lose_brackets_zones_and_v4_mapping():
    assert host_of("10.0.0.1:2379") == "10.0.0.1"
    assert host_of("[::ffff:10.0.0.1]:2379") == "10.0.0.1"
    assert host_of("[fe80::1%eth0]:2380") == "fe80::1"


def test_only_findings_in_both_samples_persist():
    a, b, c = Finding("cp1", "a"), Finding("cp1", "b"), Finding("cp2", "c")
    assert persistent([a, b], [b, c]) == [b]


def answer(response):
    return _http_verdict(
        lambda verdict, detail: Probe("runner", "none", "u", verdict, detail),
        response,
    )


def test_an_etcd_answer_is_accepted_and_counts_the_keys():
    probe = answer('HTTP/1.1 200 OK\r\n\r\n{"header":{},"count":"42"}')
    assert probe.verdict == "accepted"
    assert "42 keys under /registry/" in probe.detail


def test_401_and_a_silent_close_are_refusals():
    assert answer("HTTP/1.1 401 Unauthorized\r\n\r\n").verdict == "refused"
    assert answer("").verdict == "refused"
