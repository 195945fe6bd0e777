"""One exec stream into a helper pod: open it, collect it, tell apart a
command that never started from one whose end was not seen.

The difference matters to faults that cut their own path: a stream lost
after it opened means the command reached the host (``StreamLost``), and
the host's own log says later what happened.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException
from websocket import WebSocketException

from gauntlet.errors import NodeAccessError

__all__ = ["OpenLost", "StreamLost", "collect", "open_exec"]

_STDOUT, _STDERR, _ERROR = 1, 2, 3


class StreamLost(NodeAccessError):
    """The command started on the node but its end was never seen (the
    stream broke, timed out or ended without an exit code): it may have
    run in part or in full."""


class OpenLost(NodeAccessError):
    """The connection broke while the stream was being opened (no HTTP
    status: a transport error). Usually nothing ran; but when the command
    stops the very API server the exec passes through, it ran and took
    the handshake's answer down with it."""


def open_exec(
    opener: Callable[[str, Sequence[str]], Any], pod: str, argv: Sequence[str]
) -> Any:
    """``opener(pod, argv)``, its refusals as ``NodeAccessError``.

    Raises:
        NodeAccessError: the stream could not be opened: nothing ran.
    """
    try:
        return opener(pod, argv)
    except (ApiException, WebSocketException) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        lost = isinstance(exc, ApiException) and not exc.status
        raise (OpenLost if lost else NodeAccessError)(
            f"exec in pod {pod} failed: {reason}; is the node's "
            "kubelet reachable?"
        ) from exc


def collect(
    resp: Any, node: str, argv: Sequence[str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Read an open stream to its end: output and exit code.

    Raises:
        StreamLost: the stream broke or timed out, or its status is not
            an exit code.
    """
    out: list[str] = []
    err: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while resp.is_open():
            left = deadline - time.monotonic()
            if left <= 0:
                raise StreamLost(
                    f"{' '.join(argv)[:80]} on node {node} timed out "
                    f"after {timeout_s:.0f}s"
                )
            resp.update(timeout=min(left, 1.0))
            out.append(resp.read_channel(_STDOUT, timeout=0))
            err.append(resp.read_channel(_STDERR, timeout=0))
        out.append(resp.read_channel(_STDOUT, timeout=0))
        err.append(resp.read_channel(_STDERR, timeout=0))
        status = resp.read_channel(_ERROR, timeout=0)
    except WebSocketException as exc:
        # The exec stream runs through the node's kubelet: stopping
        # it, or cutting the node off, closes the stream mid-command.
        raise StreamLost(
            f"{' '.join(argv)[:80]} on node {node}: exec stream lost "
            f"({type(exc).__name__}); is the node's kubelet reachable?"
        ) from exc
    finally:
        resp.close()
    return subprocess.CompletedProcess(
        list(argv), exit_code(status, node), "".join(out), "".join(err)
    )


def exit_code(status: str, node: str) -> int:
    """Decode the exec error channel (a ``Status`` object) to an exit code.

    Raises:
        StreamLost: the status is unreadable or not an exit code.
    """
    if not status:
        return 0
    try:
        data = json.loads(status)
    except ValueError as exc:
        raise StreamLost(
            f"exec on node {node}: unreadable status {status[:80]!r}"
        ) from exc
    if data.get("status") == "Success":
        return 0
    for cause in (data.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", 1))
    raise StreamLost(
        f"exec on node {node} failed: {data.get('message', status[:80])}"
    )
