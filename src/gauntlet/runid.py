"""Run ids: one format for CLI runs, bare pytest sessions and chaos runs.

A run id names ``reports/<run-id>/``, labels what a run creates and keys
the fault ledger, so ids must sort by start time and never collide.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

__all__ = ["RUN_ID_ENV", "current_run_id", "new_run_id"]

RUN_ID_ENV = "KUBE_GAUNTLET_RUN_ID"
"""Set by ``gauntlet run`` and ``experiment run`` for their children."""


def new_run_id(prefix: str = "") -> str:
    """``[prefix-]YYYYmmddTHHMMSSZ-<6 hex>``: UTC start, sortable, unique."""
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return f"{prefix}-{stamp}" if prefix else stamp


def current_run_id() -> str | None:
    """The id a ``gauntlet`` parent handed this process, if any."""
    return os.environ.get(RUN_ID_ENV) or None
