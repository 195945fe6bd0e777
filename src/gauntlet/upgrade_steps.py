"""The steps file of an upgrade: one JSON line per step, epoch seconds.

``gauntlet lab upgrade --steps-file`` writes it and UPG-06 reads it for
per-step durations; any user's upgrade command may write the same lines
to ``$KUBE_GAUNTLET_UPGRADE_STEPS_FILE``. One format, defined here for
both sides.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["UPGRADE_STEPS_ENV", "Step", "append_step", "read_steps"]

UPGRADE_STEPS_ENV = "KUBE_GAUNTLET_UPGRADE_STEPS_FILE"
"""Where an upgrade command may write its steps (set by UPG-06)."""


@dataclass(frozen=True)
class Step:
    """One step of an upgrade (``{"step", "node", "start", "end"}``)."""

    step: str
    node: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def append_step(path: Path, step: Step) -> None:
    with path.open("a") as out:
        out.write(json.dumps(asdict(step)) + "\n")


def read_steps(path: Path) -> list[Step]:
    """The steps written so far; none when no file was written. A line
    that is not a step is passed over: the file is the command's."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            raw = json.loads(line)
            found.append(
                Step(
                    str(raw["step"]),
                    str(raw.get("node", "")),
                    float(raw["start"]),
                    float(raw["end"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return found
