"""What several ARCH checks share beyond etcdctl itself."""

from __future__ import annotations

from gauntlet.checks.arch._etcd import Member, cluster_members, etcdctl_on
from gauntlet.checks.context import CheckContext, CheckSkipped, violated

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
        return cluster_members(ctx, etcdctl_on(ctx, step))
    except CheckSkipped:
        if problems:
            raise violated(step, "; ".join(problems)) from None
        raise
