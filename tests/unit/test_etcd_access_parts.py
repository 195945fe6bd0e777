"""ARCH-01 counts what answered: a probe with no answer proves nothing,
and etcd beyond node access leaves its connections unobserved, by name."""

import socket

import pytest
from etcd_fakes import FakeNodes, context, topology

from gauntlet.checks.arch import _tls_probe as probe
from gauntlet.checks.arch.etcd_access import (
    check_only_apiserver_talks_to_etcd,
    live_connections,
)
from gauntlet.checks.context import CheckSkipped

URL = "https://10.0.0.11:2379"


def attempt(verdict, url=URL, identity="no certificate"):
    return probe.Probe("runner", identity, url, verdict, "detail")


def test_probes_that_got_no_answer_prove_nothing():
    verdict = probe.judge([attempt("unreachable"), attempt("unreachable")])

    assert verdict.answered == 0
    assert len(verdict.unanswered) == 2
    assert verdict.unobserved.startswith("no probe got an answer: ")
    assert verdict.findings == ()


def test_unanswered_probes_are_counted_beside_the_answered_ones():
    verdict = probe.judge([attempt("refused"), attempt("unreachable")])

    assert verdict.answered == 1
    assert verdict.unanswered == (attempt("unreachable").describe(),)
    assert verdict.unobserved == ""


def test_an_accepted_probe_is_a_finding_naming_the_member():
    verdict = probe.judge(
        [attempt("accepted"), attempt("unreachable")],
        member=lambda url: f"cp1 ({url})",
    )

    assert verdict.findings == (
        f"etcd cp1 ({URL}) answered no certificate from runner (detail)",
    )
    assert verdict.answered == 1


def test_identities_that_could_not_be_tried_count_as_unanswered():
    verdict = probe.judge([], ["no kubelet process to take credentials from"])

    assert verdict.unobserved == (
        "no probe got an answer: no kubelet process to take credentials from"
    )


def test_external_etcd_leaves_live_connections_unobserved_by_name():
    external = "https://10.9.9.9:2379"
    apiserver = ["kube-apiserver", f"--etcd-servers={external}"]
    nodes = FakeNodes({n: [apiserver] for n in ("cp1", "cp2", "cp3")})
    ctx = context(topology(etcd_members=(external,)), nodes=nodes)

    with pytest.raises(CheckSkipped) as caught:
        live_connections(ctx, [external])

    assert "no etcd process on any control-plane node" in str(caught.value)
    assert "etcd is external (https://10.9.9.9:2379)" in str(caught.value)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_etcd_that_answers_no_probe_is_never_a_pass():
    url = f"https://127.0.0.1:{closed_port()}"
    parts = []
    ctx = context(topology(etcd_members=(url,)), parts=parts)

    with pytest.raises(CheckSkipped) as caught:
        check_only_apiserver_talks_to_etcd(ctx)

    assert "certificates: no probe got an answer" in str(caught.value)
    assert {p.name: p.status for p in parts} == {
        "certificates": "unobserved",
        "rogue-client probe": "unobserved",
        "credentials": "unobserved",
        "configured clients": "unobserved",
        "live connections": "unobserved",
    }
    assert ctx.measured["etcd probes unanswered (certificates)"] == 1
