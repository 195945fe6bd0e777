"""What several ARCH checks share beyond etcdctl itself."""

from __future__ import annotations

from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.observe.etcd import Member

__all__ = ["etcd_members_or_fail"]


def etcd_members_or_fail(
    ctx: CheckContext, step: str, problems: list[str]
) -> list[Member]:
    """etcd's members; when etcd cannot be observed, fail with the
    ``problems`` already found rather than let the skip hide them.

    Raises:
        GuaranteeViolated: etcd is unobservable and ``problems`` is not
            empty.
        CheckSkipped: etcd is unobservable and nothing failed before.
    """
    try:
        ctx.require_nodes(step)
        return ctx.etcd(step).members()
    except CheckSkipped:
        if problems:
            raise violated(step, "; ".join(problems)) from None
        raise
