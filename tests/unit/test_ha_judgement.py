"""ARCH-11's judgement: HA means etcd survives losing a member."""

import pytest
from etcd_fakes import FakeEtcd, context, member, topology

from gauntlet.checks.arch.ha import (
    HaWarning,
    check_control_plane_is_highly_available,
    judge_members,
    leader_findings,
)
from gauntlet.errors import GuaranteeViolated


def test_one_member_behind_three_masters_has_no_failure_tolerance():
    judged = judge_members([member("cp1")], "production")

    assert judged.failure_tolerance == 0
    assert len(judged.findings) == 1
    assert (
        "etcd has 1 voting member, failure tolerance 0" in (judged.findings[0])
    )


def test_learners_are_reported_but_never_counted_as_votes():
    members = [
        member("cp1", "1"),
        member("cp2", "2"),
        member("cp3", "3"),
        member("w1", "4", learner=True),
    ]
    judged = judge_members(members, "production")

    assert judged.findings == ()
    assert [m.member_id for m in judged.voting] == ["1", "2", "3"]
    assert [m.member_id for m in judged.learners] == ["4"]
    assert judged.failure_tolerance == 1


def test_a_learner_does_not_make_one_voter_tolerant():
    members = [member("cp1", "1"), member("cp2", "2", learner=True)]
    judged = judge_members(members, "production")

    assert any(
        "1 voting member (+1 learner(s)), failure tolerance 0" in f
        for f in judged.findings
    ), judged.findings


def test_two_members_are_even_and_tolerate_nothing():
    judged = judge_members([member("cp1", "1"), member("cp2", "2")], "dev")

    even = "even number of voting members (2:"
    assert any(even in f for f in judged.findings), judged.findings
    assert "2 voting members, failure tolerance 0" in judged.warnings[0]


def test_the_dev_profile_tolerates_a_single_member_with_a_warning():
    judged = judge_members([member("cp1")], "dev")

    assert judged.findings == ()
    assert "1 voting member, failure tolerance 0" in judged.warnings[0]


def test_every_unhealthy_member_is_named():
    members = [
        member("cp1", "1"),
        member("cp2", "2", healthy=False),
        member("cp3", "3"),
    ]
    findings = judge_members(members, "production").findings

    assert len(findings) == 1
    assert "cp2" in findings[0] and "unhealthy" in findings[0]


def test_leaders_must_be_exactly_one_member():
    assert leader_findings([member("cp1", "1"), member("cp2", "2")]) == []
    two = [member("cp1", "1", leader="1"), member("cp2", "2", leader="2")]
    assert "2 leaders" in leader_findings(two)[0]
    stranger = [member("cp1", "1", leader="9")]
    assert "is not a member" in leader_findings(stranger)[0]


def test_a_lone_etcd_member_fails_the_check_on_three_masters(monkeypatch):
    monkeypatch.delenv("KUBE_GAUNTLET_HA_PROFILE", raising=False)
    parts = []
    ctx = context(topology(), etcd=FakeEtcd([member("cp3")]), parts=parts)

    with pytest.raises(GuaranteeViolated) as caught:
        check_control_plane_is_highly_available(ctx)

    assert "1 voting member, failure tolerance 0" in str(caught.value)
    assert {p.name: p.status for p in parts} == {
        "control-plane nodes": "checked",
        "etcd members": "violated",
        "etcd leader": "checked",
    }


def test_too_few_masters_fail_even_when_etcd_is_hidden(monkeypatch):
    monkeypatch.setenv("KUBE_GAUNTLET_HA_PROFILE", "production")
    parts = []
    ctx = context(
        topology(control_planes=("cp1",)),
        etcd=FakeEtcd(hidden="no etcd process on any control-plane node"),
        parts=parts,
    )

    with pytest.raises(GuaranteeViolated, match="1 control-plane node"):
        check_control_plane_is_highly_available(ctx)

    statuses = {p.name: p.status for p in parts}
    assert statuses["etcd members"] == "unobserved"
    assert statuses["etcd leader"] == "unobserved"


def test_a_dev_cluster_with_one_member_passes_with_a_warning(monkeypatch):
    monkeypatch.setenv("KUBE_GAUNTLET_HA_PROFILE", "dev")
    ctx = context(
        topology(control_planes=("cp1",)), etcd=FakeEtcd([member("cp1")])
    )

    with pytest.warns(HaWarning) as warned:
        check_control_plane_is_highly_available(ctx)

    messages = [str(w.message) for w in warned]
    assert any("fewer than 3 (dev profile)" in m for m in messages)
    assert any("failure tolerance 0" in m for m in messages)
