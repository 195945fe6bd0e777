"""Talk to a node's supervisor, with the lab's errors.

The wire itself (one JSON line each way) is ``gauntlet.nodes.
supervisor_wire``, which the pod backend also runs on hosts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gauntlet.errors import LabError
from gauntlet.nodes import supervisor_wire


def call(
    sock_path: Path, op: str, timeout_s: float = 60.0, **fields: Any
) -> dict[str, Any]:
    """Send one request and return the reply; raise LabError if refused."""
    request = json.dumps({"op": op, **fields})
    try:
        reply: dict[str, Any] = supervisor_wire.exchange(
            sock_path, request, timeout_s
        )
    except OSError as exc:
        raise LabError(
            f"node supervisor at {sock_path} is not answering ({exc}); "
            "is the lab up? try `gauntlet lab status`"
        ) from exc
    if not reply.get("ok"):
        raise LabError(f"supervisor refused {op}: {reply.get('error')}")
    return reply
