"""What the etcd members say about themselves and each other.

etcdctl runs where ``gauntlet.observe.etcd`` finds it: next to etcd on a
control-plane node through node access, or inside the etcd static pod.
"""

import time

from chaoslib.exceptions import ActivityFailed

from gauntlet.chaos import _context
from gauntlet.chaos._context import Configuration, Secrets

__all__ = ["etcd_leader", "etcd_members_healthy", "etcd_revisions_agree"]

AGREE_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 1.0


def etcd_leader(
    configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, str]:
    """The member every answering member names as leader.

    Returns ``{"endpoint": ..., "member_id": ..., "raft_term": ...}``.

    Raises:
        ActivityFailed: no member answers, no leader, or members disagree
            about who leads.
    """
    found = _context.etcd(configuration, secrets).statuses()
    leaders = {m.leader_id for m in found}
    if leaders == {"0"} or not leaders:
        raise ActivityFailed(f"etcd has no leader ({len(found)} answered)")
    if len(leaders) > 1:
        raise ActivityFailed(
            "etcd members disagree about the leader: "
            + ", ".join(f"{m.endpoint}->{m.leader_id}" for m in found)
        )
    leader_id = leaders.pop()
    for member in found:
        if member.member_id == leader_id:
            return {
                "endpoint": member.endpoint,
                "member_id": member.member_id,
                "raft_term": str(member.raft_term),
            }
    raise ActivityFailed(f"etcd leader {leader_id} does not answer")


def etcd_members_healthy(
    expected: int = 3,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether ``expected`` members answer and all follow one leader.

    Raises:
        ActivityFailed: fewer members answer, one has no leader, or they
            name different leaders (unless ``raise_on_failure`` is false,
            then the probe returns ``False``).
    """
    try:
        found = _context.etcd(configuration, secrets).statuses()
    except Exception as exc:  # noqa: BLE001 - provider boundary
        if raise_on_failure:
            raise ActivityFailed(f"etcd status: {exc}") from exc
        return False
    problems = []
    if len(found) < expected:
        problems.append(f"{len(found)} of {expected} members answer")
    leaders = {m.leader_id for m in found}
    if "0" in leaders:
        problems.append("a member has no leader")
    if len(leaders - {"0"}) > 1:
        problems.append(f"members name {len(leaders)} leaders")
    if problems and raise_on_failure:
        raise ActivityFailed("etcd unhealthy: " + "; ".join(problems))
    return not problems


def etcd_revisions_agree(
    timeout_s: float = AGREE_TIMEOUT_S,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether every member has the same KV hash at a common revision.

    Takes the lowest current revision R among the members and asks each
    for ``hashkv --rev=R``: members that applied the same history agree.
    Retries for ``timeout_s`` while a member catches up (or answers
    nothing) after a fault.

    Raises:
        ActivityFailed: members still disagree, or one does not answer,
            after ``timeout_s`` (unless ``raise_on_failure`` is false).
    """
    deadline = time.monotonic() + timeout_s
    problem = "never checked"
    while True:
        try:
            problem = _disagreement(configuration, secrets)
        except Exception as exc:  # noqa: BLE001 - retried, then reported
            problem = str(exc)
        if not problem:
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    if raise_on_failure:
        raise ActivityFailed(f"etcd members disagree: {problem}")
    return False


def _disagreement(configuration: Configuration, secrets: Secrets) -> str:
    etcd = _context.etcd(configuration, secrets)
    found = etcd.statuses()
    revision = min(m.revision for m in found)
    sums = etcd.hashes(revision)
    if len(sums) < len(found):
        return f"{len(sums)} of {len(found)} members hashed revision {revision}"
    if len({h.hash for h in sums}) > 1:
        return f"hash at revision {revision}: " + ", ".join(
            f"{h.endpoint}={h.hash}" for h in sums
        )
    return ""
