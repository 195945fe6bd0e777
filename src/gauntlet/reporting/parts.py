"""The parts of a guarantee: what a check proved and what it could not see.

A guarantee is rarely one observation. ARCH-01 ("only the API server
talks to etcd") is proved by certificates, etcd's flags, live connections
and a rogue-client probe; on a managed cluster some of those cannot be
observed at all. Each check therefore reports its parts, and a verdict
says how much of the guarantee was proved: "pass, 2 of 4 parts" is not
the same claim as "pass".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

__all__ = [
    "PART_STATUSES",
    "PartResult",
    "PartStatus",
    "merge_parts",
    "parts_line",
]

PartStatus = Literal["checked", "violated", "unobserved", "not-applicable"]
PART_STATUSES: tuple[PartStatus, ...] = (
    "checked",
    "violated",
    "unobserved",
    "not-applicable",
)
_WORST: dict[PartStatus, int] = {
    "not-applicable": 0,
    "checked": 1,
    "unobserved": 2,
    "violated": 3,
}


@dataclass(frozen=True)
class PartResult:
    """One part of a guarantee as one check saw it."""

    name: str
    status: PartStatus
    reason: str = ""
    """Why it was unobserved or does not apply; empty when checked."""
    findings: tuple[str, ...] = field(default=())
    """The violations found in this part (status ``violated``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "findings": list(self.findings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartResult:
        status = data["status"]
        if status not in PART_STATUSES:
            raise ValueError(f"part status {status!r}: not in {PART_STATUSES}")
        return cls(
            name=str(data["name"]),
            status=cast(PartStatus, status),
            reason=str(data.get("reason", "")),
            findings=tuple(str(f) for f in data.get("findings", ())),
        )


def merge_parts(parts: Iterable[PartResult]) -> tuple[PartResult, ...]:
    """One result per part name, the worst status winning (several tests
    of one guarantee may report the same part); first-seen order."""
    merged: dict[str, PartResult] = {}
    for part in parts:
        seen = merged.get(part.name)
        if seen is None or _WORST[part.status] > _WORST[seen.status]:
            findings = part.findings + (seen.findings if seen else ())
            merged[part.name] = PartResult(
                part.name, part.status, part.reason, findings
            )
        elif part.findings:
            merged[part.name] = PartResult(
                seen.name,
                seen.status,
                seen.reason,
                seen.findings + part.findings,
            )
    return tuple(merged.values())


def parts_line(parts: Sequence[PartResult]) -> str:
    """``2 of 4 parts; unobserved: live connections (no node access)``,
    or empty when every part that applies was checked."""
    applicable = [p for p in parts if p.status != "not-applicable"]
    unobserved = [p for p in applicable if p.status == "unobserved"]
    if not unobserved:
        return ""
    proved = len(applicable) - len(unobserved)
    missing = "; ".join(f"{p.name} ({p.reason})" for p in unobserved)
    return f"{proved} of {len(applicable)} parts; unobserved: {missing}"
