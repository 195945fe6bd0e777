"""Faults the node undoes itself: at a planned time, or as a last resort.

Stopping the kubelet, partitioning a node or stopping the API server an
exec goes through cuts the path the runner would send the undo by. Such
a fault is handed to the host with its undo, like Krkn's ``systemctl
stop kubelet; sleep N; systemctl start kubelet``: before the fault, the
host starts detached watchers that run the undo at the planned time
(``plan``: that long after the fault's command returned) and, should
that fail, when the dead man's switch expires (``deadman``: counted
from arming). The runner observes from outside and reads afterwards
how the fault ended.

On the host, per node and fault (a component, or ``PARTITION``):

- a switch file holds the current fault's token. A watcher acts only
  while its token is there: an explicit start or heal removes it
  (``cancel_script``), a later fault replaces it, so an old watcher can
  never undo a newer fault;
- a log gets one line per step with the host's uptime (``armed``,
  ``applied``, ``ending``, ``ended``, ``cancelled``), which
  ``PlannedRestores.wait`` reads once the node answers again.

Watchers run as transient systemd units when systemd is the host's PID
1, else under ``nohup`` and moved into PID 1's cgroup, so that the
helper pod's container ending does not end them. Scripts are POSIX sh.
"""

from __future__ import annotations

import math
import secrets
import shlex
import time
from dataclasses import dataclass

from gauntlet.errors import ClusterOperationFailed, NodeAccessError, UsageError
from gauntlet.nodes.host_clock import UPTIME, HostClock, ShRun, timed
from gauntlet.nodes.types import Restore, RestoredBy

__all__ = [
    "READ_TIMEOUT_S",
    "RESTORE_MARGIN_S",
    "HostLog",
    "Plan",
    "PlannedRestores",
    "arm_script",
    "armed_script",
    "cancel_script",
    "log_path",
    "parse_log",
    "switch_path",
]

RESTORE_MARGIN_S = 120.0
"""How long after a planned end the node may take to answer again (its
kubelet back, a helper pod made again)."""
READ_TIMEOUT_S = 10.0
POLL_S = 2.0
FAULT_WAIT_S = 120
"""How long a plan waits for its fault's command to return before it
counts anyway (a ``systemctl stop`` times out after 90 s)."""
_ESCAPE = (
    # Out of the helper container's cgroup, into PID 1's (cgroup v2): the
    # runtime kills the container's cgroup when the container ends.
    '[ -n "${INVOCATION_ID:-}" ] || nsenter -t 1 -C -- sh -c '
    + shlex.quote(
        'c=$(sed -n "s/^0:://p" /proc/1/cgroup) && [ -n "$c" ] && '
        'f="/sys/fs/cgroup${c%/}/cgroup.procs" && [ -f "$f" ] && '
        'echo "$1" > "$f"'
    )
    + ' kg-escape "$$" >/dev/null 2>&1 || true'
)
_SPAWN = """kg_spawn() {
  if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && \\
    command -v systemd-run >/dev/null 2>&1 && \\
    systemd-run --quiet --collect --unit="$1" \\
      sh "$2" "$3" "$4" "$5" >/dev/null 2>&1; then
    return 0
  fi
  kg_setsid=
  command -v setsid >/dev/null 2>&1 && kg_setsid=setsid
  $kg_setsid nohup sh "$2" "$3" "$4" "$5" >/dev/null 2>&1 </dev/null &
}
"""
"""Start watcher file ``$2`` with token ``$3``, role ``$4`` and delay
``$5``. The watcher is a file, never a command line: systemd expands
``$VAR`` and ``$$`` in the commands it runs."""


@dataclass(frozen=True)
class Plan:
    """One fault handed to its node, with the token of its switch."""

    node: str
    what: str
    token: str
    for_s: float | None
    """When the node undoes it; None: only the dead man's switch."""
    armed: float
    """``time.monotonic()`` just before the fault was sent."""


def switch_path(node: str, what: str) -> str:
    """The switch file (named after the node too, should nodes share a
    /tmp)."""
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in node)
    return f"/tmp/kube-gauntlet-undo-{safe}-{what}"


def log_path(node: str, what: str) -> str:
    return switch_path(node, what) + ".log"


def _watcher(node: str, what: str, undo: str) -> str:
    """Watcher of ``$1`` (token): ``$3`` s after the fault ran (the plan)
    or was armed (the dead man), as ``$2``, undo unless the switch moved
    on; keep the switch when the undo failed, so that the dead man's
    switch tries again."""
    switch = shlex.quote(switch_path(node, what))
    log = shlex.quote(log_path(node, what))
    mine = f'[ "$(cat {switch} 2>/dev/null)" = "$1" ]'
    applied = f'grep -q "^applied $1 " {log} 2>/dev/null'
    return (
        'rm -f "$0"\n'  # sh holds it open: its file is not needed any more
        f"{_ESCAPE}\n"
        # The plan counts from the fault's end: a graceful stop may take
        # seconds. A fault that never ends is given FAULT_WAIT_S.
        'kg_i=0; while [ "$2" = plan ] && '
        f"[ $kg_i -lt {FAULT_WAIT_S * 10} ] && {mine} && ! {applied}; do\n"
        "  sleep 0.1 2>/dev/null || { sleep 1; kg_i=$((kg_i + 9)); }\n"
        "  kg_i=$((kg_i + 1))\n"
        "done\n"
        'sleep "$3"\n'
        f"{mine} || exit 0\n"
        f'{UPTIME}; echo "ending $1 $kg_up $2" >> {log}\n'
        f"( {undo}\n) </dev/null >/dev/null 2>&1; kg_rc=$?\n"
        f'{UPTIME}; echo "ended $1 $kg_up $2 $kg_rc" >> {log}\n'
        f'[ "$kg_rc" = 0 ] && {mine} && rm -f {switch}\n'
        "exit 0\n"
    )


def arm_script(plan: Plan, undo: str, deadman_s: float | None) -> str:
    """Record ``plan`` and start its watchers (before the fault).

    The dead man's switch fires at ``deadman_s``, never before the plan.
    """
    timers: list[tuple[RestoredBy, float]] = []
    if plan.for_s is not None:
        timers.append(("plan", plan.for_s))
    if deadman_s is not None:
        timers.append(("deadman", max(deadman_s, plan.for_s or 0.0)))
    switch = shlex.quote(switch_path(plan.node, plan.what))
    log = shlex.quote(log_path(plan.node, plan.what))
    watcher = shlex.quote(_watcher(plan.node, plan.what, undo))
    planned = "-" if plan.for_s is None else f"{plan.for_s:g}"
    lines = [
        f"kg_token={shlex.quote(plan.token)}",
        f'printf %s "$kg_token" > {switch}',
        f'{UPTIME}; echo "armed $kg_token $kg_up {planned}" > {log}',
        _SPAWN,
    ]
    unit = _unit(plan)
    for by, delay in timers:
        script = shlex.quote(
            f"{switch_path(plan.node, plan.what)}.{plan.token}.{by}.sh"
        )
        lines += [
            f"printf '%s\\n' {watcher} > {script}",
            f'kg_spawn {unit}-{by} {script} "$kg_token" {by} '
            f"{math.ceil(delay)}",
        ]
    return "\n".join(lines) + "\n"


def armed_script(
    plan: Plan, undo: str, fault: str, deadman_s: float | None
) -> str:
    """Arm ``plan``, run ``fault`` and log when it ran and how it exited;
    exit with its code."""
    log = shlex.quote(log_path(plan.node, plan.what))
    return (
        arm_script(plan, undo, deadman_s)
        + f"(\n{fault}\n)\nkg_rc=$?\n"
        + f'{UPTIME}; echo "applied $kg_token $kg_up $kg_rc" >> {log}\n'
        + "exit $kg_rc\n"
    )


def cancel_script(node: str, what: str) -> str:
    """Lines that cancel whatever is armed for ``what`` (an explicit start
    or heal comes first), logging it when something was armed."""
    switch = shlex.quote(switch_path(node, what))
    log = shlex.quote(log_path(node, what))
    return (
        f'kg_tok=$(cat {switch} 2>/dev/null) && [ -n "$kg_tok" ] && '
        f'{{ {UPTIME}; echo "cancelled $kg_tok $kg_up" >> {log}; }}\n'
        f"rm -f {switch}\n"
    )


def _unit(plan: Plan) -> str:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in plan.node)
    return f"kube-gauntlet-undo-{safe}-{plan.what}-{plan.token}"


@dataclass(frozen=True)
class HostLog:
    """One fault's lines in its node's log (uptimes of the host)."""

    armed: float | None = None
    applied: tuple[float, int] | None = None
    ending: tuple[float, RestoredBy] | None = None
    ended: tuple[float, RestoredBy, int] | None = None
    cancelled: float | None = None
    replaced: bool = False
    """The log was armed again by a later fault: this one's lines are
    gone."""

    def state(self) -> str:
        """The last step, for messages."""
        if self.cancelled is not None:
            return "cancelled"
        if self.ended is not None:
            return f"undone by the {self.ended[1]} (exit {self.ended[2]})"
        if self.ending is not None:
            return f"being undone by the {self.ending[1]}"
        if self.applied is not None:
            return f"applied (exit {self.applied[1]}), not undone yet"
        if self.armed is not None:
            return "armed, fault not applied yet"
        return "replaced by a later fault" if self.replaced else "no record"


def parse_log(text: str, token: str) -> HostLog:
    """The steps of the fault ``token`` in a node's log (the last of each).

    Raises:
        ClusterOperationFailed: a line of this fault cannot be read.
    """
    found: dict[str, list[str]] = {}
    others = False
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[0] == "now":
            continue
        if parts[1] != token:
            others |= parts[0] == "armed"
            continue
        found[parts[0]] = parts[2:]
    try:
        return HostLog(
            armed=float(found["armed"][0]) if "armed" in found else None,
            applied=_applied(found.get("applied")),
            ending=_by(found.get("ending")),
            ended=_ended(found.get("ended")),
            cancelled=(
                float(found["cancelled"][0]) if "cancelled" in found else None
            ),
            replaced=others and "armed" not in found,
        )
    except (ValueError, IndexError) as exc:
        raise ClusterOperationFailed(
            "read", f"the undo log of {token}", None, f"{text[-200:]!r}"
        ) from exc


def _applied(fields: list[str] | None) -> tuple[float, int] | None:
    return None if fields is None else (float(fields[0]), int(fields[1]))


def _by(fields: list[str] | None) -> tuple[float, RestoredBy] | None:
    return None if fields is None else (float(fields[0]), _who(fields[1]))


def _ended(fields: list[str] | None) -> tuple[float, RestoredBy, int] | None:
    if fields is None:
        return None
    return float(fields[0]), _who(fields[1]), int(fields[2])


def _who(word: str) -> RestoredBy:
    if word == "plan":
        return "plan"
    if word == "deadman":
        return "deadman"
    raise ValueError(f"unknown watcher {word!r}")


class PlannedRestores:
    """The faults one backend handed to its nodes, and how they ended."""

    def __init__(self, deadman_s: float | None) -> None:
        self.deadman_s = deadman_s
        """The dead man's switch armed with each plan (None: none)."""
        self._plans: dict[tuple[str, str], Plan] = {}

    def plan(self, node: str, what: str, for_s: float | None) -> Plan:
        """A fresh token for a fault on ``what``, kept for ``wait`` when
        the fault has a planned duration.

        Raises:
            UsageError: ``for_s`` is not positive.
        """
        if for_s is not None and not for_s > 0:
            raise UsageError(f"a planned duration must be positive: {for_s}")
        plan = Plan(node, what, secrets.token_hex(6), for_s, time.monotonic())
        if for_s is None:
            self._plans.pop((node, what), None)
        else:
            self._plans[(node, what)] = plan
        return plan

    def script(self, plan: Plan, undo: str, fault: str) -> str:
        """``fault`` armed with ``undo`` (``armed_script``)."""
        return armed_script(plan, undo, fault, self.deadman_s)

    def wait(
        self, run: ShRun, node: str, what: str, margin_s: float
    ) -> Restore:
        """Sleep until the planned end of the fault on ``what`` (at the
        earliest), then read the node's log until it says the fault is
        undone.

        Raises:
            UsageError: no fault on ``what`` was planned here.
            NodeAccessError: the node did not answer with the fault undone
                within ``margin_s`` of its planned end, its fault or undo
                failed, or a later fault replaced it.
        """
        plan = self._plans.get((node, what))
        if plan is None or plan.for_s is None:
            raise UsageError(
                f"no fault on {what} of node {node} was planned to end by "
                "itself in this process"
            )
        end = plan.armed + plan.for_s
        time.sleep(max(0.0, end - time.monotonic()))
        read = f"cat {shlex.quote(log_path(node, what))} 2>/dev/null"
        last = "no answer yet"
        while True:
            try:
                out, clock = timed(run, read, READ_TIMEOUT_S)
            except (NodeAccessError, ClusterOperationFailed) as exc:
                last = f"not answering: {exc}"
            else:
                log = parse_log(out, plan.token)
                restore = restore_of(plan, log, clock, self.deadman_s)
                if restore is not None:
                    self._plans.pop((node, what), None)
                    return restore
                last = log.state()
            if time.monotonic() >= end + margin_s:
                raise NodeAccessError(
                    f"{what} on node {node}: not undone {margin_s:.0f}s after"
                    f" its planned end, {plan.for_s:g}s after the fault "
                    f"(last: {last}){_fallback(self.deadman_s)}"
                )
            time.sleep(POLL_S)


def restore_of(
    plan: Plan, log: HostLog, clock: HostClock, deadman_s: float | None
) -> Restore | None:
    """How the fault ended, from its log; None while it is not over.

    Raises:
        NodeAccessError: the fault or its undo failed on the node, or a
            later fault replaced it before it ended.
    """
    where = f"{plan.what} on node {plan.node}"
    by: RestoredBy
    if log.applied is not None and log.applied[1] != 0:
        raise NodeAccessError(
            f"{where}: the fault's command failed on the node "
            f"(exit {log.applied[1]})"
        )
    if log.cancelled is not None:
        began, by, took = log.cancelled, "runner", 0.0
    elif log.ended is not None:
        done, who, code = log.ended
        if code != 0:
            raise NodeAccessError(
                f"{where}: the node's undo ({who}) failed (exit {code})"
                + _fallback(deadman_s if who == "plan" else None)
            )
        began = log.ending[0] if log.ending else done
        by, took = who, done - began
    elif log.replaced:
        raise NodeAccessError(f"{where}: a later fault replaced its plan")
    else:
        return None
    if log.applied is None:
        raise NodeAccessError(
            f"{where}: ended ({by}) but the node has no record that the "
            "fault ran"
        )
    return Restore(
        node=plan.node,
        what=plan.what,
        planned_s=plan.for_s or 0.0,
        applied_at=clock.epoch(log.applied[0]),
        ended_at=clock.epoch(began),
        by=by,
        undo_s=took,
        error_s=clock.error_s,
    )


def _fallback(deadman_s: float | None) -> str:
    tail = "; run `gauntlet recover`"
    if deadman_s is None:
        return tail
    return (
        f"; its dead man's switch undoes it {deadman_s:.0f}s after the "
        f"fault{tail} to undo it now"
    )
