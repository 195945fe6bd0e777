"""The lab node supervisor's wire: where its socket is, one request on it.

The lab's node supervisor answers one JSON line per connection on a
Unix socket. This is the only client of that wire: the
lab calls ``exchange`` in process, and the pod backend ships this file's
source to a host and runs it there, so it stays stdlib-only and works
as a script: ``python3 -c SOURCE SOCKET REQUEST_JSON`` prints the reply
and exits 0 when the supervisor accepted the request, else 1.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

SOCKET_NAME = "supervisor.sock"
STATE_ENV = "KUBE_GAUNTLET_STATE"
DEFAULT_STATE_ROOT = "/var/lib/kube-gauntlet"
TIMEOUT_S = 60.0


def state_root() -> Path:
    """The lab state: ``$KUBE_GAUNTLET_STATE`` or /var/lib/kube-gauntlet."""
    return Path(os.environ.get(STATE_ENV, DEFAULT_STATE_ROOT))


def lab_dir(state: Path) -> Path:
    """One lab's state directory under a state root."""
    return state / "lab"


def node_dir(lab: Path, node: str) -> Path:
    """A lab node's host-side directory (its socket, config and logs)."""
    return lab / "nodes" / node


def node_socket(node: str, state: Path | None = None) -> Path:
    """The supervisor socket of lab node ``node`` (default state root)."""
    lab = lab_dir(state or state_root())
    return node_dir(lab, node) / SOCKET_NAME


def exchange(
    sock_path: str | Path, request: str, timeout_s: float = TIMEOUT_S
) -> Any:
    """Send ``request`` as one line and return the parsed reply line
    (``{}`` when the supervisor hung up without one).

    Raises:
        OSError: the socket cannot be reached or the reply timed out.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout_s)
        conn.connect(str(sock_path))
        conn.sendall(request.encode() + b"\n")
        data = read_line(conn)
    return json.loads(data or b"{}")


def read_line(conn: socket.socket) -> bytes:
    """One newline-ended message (less if the peer hangs up first): the
    wire format of both ends."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def main(argv: list[str]) -> int:
    """``SOCKET REQUEST_JSON``: print the reply; 1 when refused."""
    reply = exchange(argv[1], argv[2])
    print(json.dumps(reply))
    return 0 if reply.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
