"""Parse ``ps`` and ``ss`` output from a node into typed records."""

from __future__ import annotations

import re

from gauntlet.nodes.types import Connection, Process

__all__ = ["PS_ARGV", "SS_ARGV", "parse_ps", "parse_ss"]

PS_ARGV = ["ps", "-ww", "-eo", "pid=,ppid=,comm=,args="]
SS_ARGV = ["ss", "-Htnp", "state", "established"]
_SS_USER = re.compile(r'\("([^"]+)",pid=(\d+)')


def parse_ps(text: str) -> list[Process]:
    """Lines of ``pid ppid comm args`` (``PS_ARGV``)."""
    procs = []
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
            args = parts[3] if len(parts) > 3 else ""
            procs.append(Process(int(parts[0]), int(parts[1]), parts[2], args))
    return procs


def parse_ss(text: str) -> list[Connection]:
    """``ss -Htnp state established`` lines (``SS_ARGV``).

    With a state filter ``ss`` omits the state column: the columns are
    Recv-Q, Send-Q, local, peer, then ``users:(...)``.
    """
    conns = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        users = _SS_USER.search(line)
        conns.append(
            Connection(
                local=parts[2],
                remote=parts[3],
                process=users.group(1) if users else None,
                pid=int(users.group(2)) if users else None,
            )
        )
    return conns
