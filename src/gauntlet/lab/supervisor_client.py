"""Talk to a node's supervisor over its Unix socket."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from gauntlet.errors import LabError


def call(
    sock_path: Path, op: str, timeout_s: float = 60.0, **fields: Any
) -> dict[str, Any]:
    """Send one request and return the reply; raise LabError if refused."""
    request = json.dumps({"op": op, **fields}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(str(sock_path))
            conn.sendall(request)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise LabError(
            f"node supervisor at {sock_path} is not answering ({exc}); "
            "is the lab up? try `gauntlet lab status`"
        ) from exc
    reply: dict[str, Any] = json.loads(data or b"{}")
    if not reply.get("ok"):
        raise LabError(f"supervisor refused {op}: {reply.get('error')}")
    return reply
