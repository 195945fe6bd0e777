"""A guarantee is proved in parts, and a verdict says how much was proved.

Specification of ``CheckContext.part``/``conclude`` and of how the summary
folds parts into a verdict: a violation already found is never hidden by
a later part that cannot be observed; a pass that left parts unobserved
says so; ``--strict`` turns that into a failure.
"""

import pytest

from gauntlet.checks.context import CheckContext, CheckSkipped, Images, violated
from gauntlet.errors import GuaranteeViolated, NodeAccessError
from gauntlet.nodes.helper_pods import IMPOSSIBLE
from gauntlet.reporting.parts import PartResult, merge_parts, parts_line
from gauntlet.reporting.summary import CaseOutcome, judge


def context(recorded=None):
    sink = recorded.append if recorded is not None else (lambda _p: None)
    return CheckContext(
        cluster=None,
        topology=None,
        namespace="kg-test",
        images=Images("busybox"),
        record_part=sink,
    )


def test_a_violation_found_stays_when_a_later_part_is_unobservable():
    recorded = []
    ctx = context(recorded)
    with ctx.part("anonymous access") as part:
        part.finding("anonymous is bound to cluster-admin")
    with ctx.part("node agent"):
        raise NodeAccessError(f"{IMPOSSIBLE}: privileged pod is refused")

    with pytest.raises(GuaranteeViolated) as caught:
        ctx.conclude("front door")

    assert "anonymous is bound to cluster-admin" in str(caught.value)
    statuses = {p.name: p.status for p in recorded}
    assert statuses == {
        "anonymous access": "violated",
        "node agent": "unobserved",
    }


def test_a_violation_raised_inside_a_part_becomes_a_finding():
    ctx = context()
    with ctx.part("etcd members"):
        raise violated("etcd", "one member behind three API servers")
    with ctx.part("leader"):
        pass
    with pytest.raises(GuaranteeViolated, match="one member"):
        ctx.conclude("high availability")


def test_nothing_observed_is_a_skip_with_every_reason():
    ctx = context()
    with ctx.part("metrics"):
        raise CheckSkipped("etcd is hidden")
    ctx.unobserved("alarms", "no etcdctl")
    with pytest.raises(CheckSkipped) as caught:
        ctx.conclude("etcd health")
    assert "metrics: etcd is hidden" in str(caught.value)
    assert "alarms: no etcdctl" in str(caught.value)


def test_some_parts_observed_is_a_pass_that_names_the_rest():
    recorded = []
    ctx = context(recorded)
    with ctx.part("certificates"):
        pass
    ctx.unobserved("live connections", "no node access")
    ctx.conclude("etcd access")  # does not raise
    assert [p.status for p in recorded] == ["checked", "unobserved"]


def test_an_error_inside_a_part_is_never_a_verdict():
    ctx = context()
    with pytest.raises(RuntimeError):
        with ctx.part("probe"):
            raise RuntimeError("bug")
    with pytest.raises(NodeAccessError):
        with ctx.part("probe"):
            raise NodeAccessError("command failed on cp1")


def test_a_partial_pass_says_how_much_was_proved():
    parts = (
        PartResult("certificates", "checked"),
        PartResult("flags", "checked"),
        PartResult("connections", "unobserved", "no node access"),
        PartResult("external etcd", "not-applicable", "managed"),
    )
    outcome = CaseOutcome("t::a", "ARCH-01", "passed", parts=parts)

    assert judge([outcome]) == (
        "pass",
        "2 of 3 parts; unobserved: connections (no node access)",
    )
    verdict, message = judge([outcome], strict=True)
    assert verdict == "fail" and message.startswith("strict: 2 of 3 parts")


def test_a_full_pass_has_no_parts_message():
    outcome = CaseOutcome(
        "t::a", "ARCH-01", "passed", parts=(PartResult("a", "checked"),)
    )
    assert judge([outcome], strict=True) == ("pass", "")


def test_parts_of_several_tests_merge_worst_first():
    merged = merge_parts(
        [
            PartResult("a", "checked"),
            PartResult("a", "unobserved", "hidden"),
            PartResult("b", "checked"),
        ]
    )
    assert [(p.name, p.status) for p in merged] == [
        ("a", "unobserved"),
        ("b", "checked"),
    ]
    assert parts_line(merged) == "1 of 2 parts; unobserved: a (hidden)"


def test_parts_round_trip_through_json():
    part = PartResult("a", "violated", "", ("x",))
    assert PartResult.from_dict(part.to_dict()) == part


def test_a_check_run_again_on_the_same_context_is_judged_afresh():
    ctx = context()
    with ctx.part("a") as part:
        part.finding("broken")
    with pytest.raises(GuaranteeViolated):
        ctx.conclude("first run")
    with ctx.part("a"):
        pass
    ctx.conclude("second run")  # the first run's finding is not judged again


def test_a_fresh_context_judges_only_what_it_observes():
    ctx = context()
    with ctx.part("a") as part:
        part.finding("broken during the sabotage")
    again = ctx.fresh()
    with again.part("a"):
        pass
    again.conclude("after the restore")  # nothing of the first run left
    assert [p.status for p in again.parts] == ["checked"]
