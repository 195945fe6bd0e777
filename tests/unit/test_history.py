"""PART-02 history checker on hand-made histories."""

import pytest

from gauntlet.checks.chaos.split_brain import check_history, etcd_agreement
from gauntlet.observe.etcd import Member
from gauntlet.observe.history import (
    FINAL_CLIENT,
    EtcdState,
    Operation,
    PartitionWindow,
)

CP1, CP2, CP3 = (f"https://10.250.0.1{i}:6443" for i in (1, 2, 3))
HEALTHY_ETCD = [
    EtcdState(f"https://10.250.0.1{i}:2379", 120, 118, 4242) for i in (1, 2, 3)
]


def member(i, learner=False):
    url = f"https://10.250.0.1{i}:2379"
    return Member(
        member_id=str(i),
        name=f"cp{i}",
        client_urls=(url,),
        peer_urls=(url.replace("2379", "2380"),),
        learner=learner,
        node=f"cp{i}",
        healthy=True,
        error="",
        leader_id="1",
        db_size=None,
        quota=None,
    )


MEMBERS = [member(i) for i in (1, 2, 3)]


def op(client, kind, value, start, end, result="ok", rv=None, key="k0", ep=CP1):
    return Operation(
        client=client,
        endpoint=ep,
        kind=kind,
        key=key,
        value=value,
        start=start,
        end=end,
        start_utc="",
        end_utc="",
        result=result,
        resource_version=rv,
    )


def w(client, value, start, end, result="ok", rv=None, **kw):
    return op(client, "write", value, start, end, result, rv, **kw)


def r(client, value, start, end, result="ok", rv=None, **kw):
    return op(client, "read", value, start, end, result, rv, **kw)


def final(value, start, rv=None, **kw):
    return r(FINAL_CLIENT, value, start, start + 0.1, rv=rv, **kw)


def test_a_linear_history_with_a_final_read_is_accepted():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        r("b", "a:0", 0.2, 0.3, rv=10, ep=CP2),
        w("b", "b:1", 0.4, 0.5, rv=11, ep=CP2),
        r("a", "b:1", 0.6, 0.7, rv=11),
        final("b:1", 1.0, rv=11),
    ]
    assert check_history(ops) == []


def test_a_missing_acknowledged_write_is_reported_as_lost():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        w("b", "b:1", 0.2, 0.3, rv=11, ep=CP2),
        final("a:0", 1.0, rv=10),
    ]
    violations = check_history(ops)
    assert len(violations) == 1
    assert "acknowledged write 'b:1'" in violations[0]
    assert "final" in violations[0]


def test_a_final_state_without_any_value_loses_the_acknowledged_writes():
    ops = [w("a", "a:0", 0.0, 0.1, rv=10), final(None, 1.0)]
    assert "returned no value" in check_history(ops)[0]


def test_a_read_of_a_value_never_written_is_reported():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        r("b", "ghost", 0.2, 0.3, rv=10, ep=CP2),
        final("a:0", 1.0, rv=10),
    ]
    violations = check_history(ops)
    assert violations == [f"b read k0='ghost' via {CP2}: a value never written"]


def test_a_read_of_a_value_whose_write_failed_is_reported():
    ops = [
        w("a", "a:0", 0.0, 0.1, result="fail"),
        r("b", "a:0", 0.2, 0.3, rv=10, ep=CP2),
        final("a:0", 1.0, rv=10),
    ]
    assert any("only by a failed write" in v for v in check_history(ops))


def test_a_stale_read_after_an_acknowledged_overwrite_is_reported():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        w("a", "a:2", 0.2, 0.3, rv=12),
        r("c", "a:0", 0.5, 0.6, rv=10, ep=CP3),
        final("a:2", 1.0, rv=12),
    ]
    violations = check_history(ops)
    assert len(violations) == 1
    assert "returned 'a:0'" in violations[0] and CP3 in violations[0]


def test_a_resource_version_going_backwards_is_reported():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        w("b", "b:1", 0.05, 0.15, rv=11, ep=CP2),
        r("c", "b:1", 0.2, 0.3, rv=11, ep=CP3),
        # concurrent with nothing newer: the value is fine, the rv is not
        r("c", "b:1", 0.4, 0.5, rv=9, ep=CP3),
        final("b:1", 1.0, rv=11),
    ]
    violations = check_history(ops)
    assert any("went back from 11 to 9" in v for v in violations), violations


def test_a_write_acknowledged_by_the_minority_during_the_partition():
    window = PartitionWindow(1.0, 5.0, frozenset({CP3}))
    ops = [
        w("cp3", "cp3:0", 0.5, 1.2, rv=10, ep=CP3),  # began before the cut
        w("cp3", "cp3:2", 2.0, 2.1, rv=11, ep=CP3),  # inside: split brain
        w("cp3", "cp3:4", 4.5, 6.0, rv=12, ep=CP3),  # acked after the heal
        final("cp3:4", 7.0, rv=12),
    ]
    violations = check_history(ops, window)
    assert len(violations) == 1
    assert violations[0].startswith(f"minority {CP3} acknowledged write k0=")
    assert "'cp3:2'" in violations[0]


def test_minority_timeouts_and_failures_during_the_partition_are_fine():
    window = PartitionWindow(1.0, 5.0, frozenset({CP3}))
    ops = [
        w("cp1", "cp1:0", 0.0, 0.1, rv=10),
        w("cp3", "cp3:1", 1.5, 3.5, result="timeout", ep=CP3),
        w("cp3", "cp3:3", 3.6, 3.7, result="fail", ep=CP3),
        w("cp1", "cp1:2", 2.0, 2.1, rv=11),
        final("cp1:2", 6.0, rv=11),
    ]
    assert check_history(ops, window) == []


def test_a_timed_out_write_that_applied_may_be_the_final_value():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        w("b", "b:1", 0.2, 2.2, result="timeout", ep=CP2),
        final("b:1", 3.0, rv=11),
    ]
    assert check_history(ops) == []


def test_a_timed_out_write_that_did_not_apply_is_not_required():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        w("b", "b:1", 0.2, 2.2, result="timeout", ep=CP2),
        final("a:0", 3.0, rv=10),
    ]
    assert check_history(ops) == []


def test_a_timed_out_write_applied_after_a_later_acknowledged_one():
    # The timed-out write may take effect after b:2 was acknowledged.
    ops = [
        w("a", "a:1", 0.0, 2.0, result="timeout"),
        w("b", "b:2", 0.5, 0.6, rv=11, ep=CP2),
        final("a:1", 3.0, rv=12),
    ]
    assert check_history(ops) == []


def test_concurrent_acknowledged_writes_may_land_in_either_order():
    ops = [
        w("a", "a:0", 0.0, 1.0, rv=11),
        w("b", "b:1", 0.5, 0.6, rv=10, ep=CP2),
        final("a:0", 2.0, rv=11),
    ]
    assert check_history(ops) == []


def test_a_key_without_a_successful_final_read_is_reported():
    ops = [
        w("a", "a:0", 0.0, 0.1, rv=10),
        r(FINAL_CLIENT, None, 1.0, 3.0, result="timeout"),
    ]
    assert check_history(ops) == [
        "k0: no successful final read, the final state is unknown"
    ]


def test_an_etcd_hash_mismatch_is_reported():
    states = [
        *HEALTHY_ETCD[:2],
        EtcdState(HEALTHY_ETCD[2].endpoint, 120, 118, 1),
    ]
    violations = etcd_agreement(states, MEMBERS)
    assert len(violations) == 1
    assert violations[0].startswith("etcd: hash mismatch at revision 118")


def test_members_in_agreement_pass():
    assert etcd_agreement(HEALTHY_ETCD, MEMBERS) == []


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], "no member state"),
        (
            [*HEALTHY_ETCD, EtcdState("https://x:2379", 120, 117, 4242)],
            "hashed different revisions",
        ),
    ],
)
def test_missing_or_incomparable_etcd_states_are_reported(states, expected):
    violations = etcd_agreement(states, MEMBERS)
    assert any(expected in v for v in violations), violations


def test_a_member_missing_from_the_hash_comparison_is_reported():
    # Two members agree; the third answered nothing after the heal.
    violations = etcd_agreement(HEALTHY_ETCD[:2], MEMBERS)
    assert violations == [
        "etcd: member cp3 (3, https://10.250.0.13:2379) gave no hash "
        "after the heal"
    ]


def test_a_learner_is_not_expected_to_answer():
    learner = member(4, learner=True)
    assert etcd_agreement(HEALTHY_ETCD, [*MEMBERS, learner]) == []


def test_many_violations_are_capped_with_a_count():
    ops = [w("a", "a:0", 0.0, 0.1, rv=10)]
    ops += [r("b", f"ghost{i}", 1.0, 1.1, ep=CP2) for i in range(8)]
    ops.append(final("a:0", 2.0, rv=10))
    violations = check_history(ops)
    assert len(violations) == 6
    assert violations[-1] == "... and 3 more like these"
