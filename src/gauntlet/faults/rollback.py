"""Rollbacks as data: a kind naming a registered function, and params.

A ledger on disk can only hold data, not closures; ``gauntlet recover``
in a fresh process turns the data back into calls through this registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gauntlet.errors import UsageError

__all__ = [
    "Rollback",
    "RollbackFn",
    "registered_kinds",
    "rollback_kind",
    "run_rollback",
]

RollbackFn = Callable[[Mapping[str, Any]], None]
_REGISTRY: dict[str, RollbackFn] = {}


@dataclass(frozen=True)
class Rollback:
    """How to undo one fault: ``kind`` names a registered function.

    Rollback functions must be idempotent: a fault whose injection failed
    half-way, or that recovery replays twice, is rolled back all the same.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable arguments for the rollback function."""

    def __post_init__(self) -> None:
        try:
            json.dumps(self.params)
        except (TypeError, ValueError) as exc:
            raise UsageError(
                f"rollback {self.kind}: params must be JSON data ({exc})"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rollback:
        return cls(str(data["kind"]), dict(data.get("params") or {}))


def rollback_kind(name: str) -> Callable[[RollbackFn], RollbackFn]:
    """Register the decorated function as the rollback kind ``name``.

    Raises:
        UsageError: another function already has this name.
    """

    def register(fn: RollbackFn) -> RollbackFn:
        existing = _REGISTRY.get(name)
        if existing is not None and _qualname(existing) != _qualname(fn):
            raise UsageError(
                f"rollback kind {name!r} is registered twice "
                f"({_qualname(existing)} and {_qualname(fn)})"
            )
        _REGISTRY[name] = fn
        return fn

    return register


def registered_kinds() -> tuple[str, ...]:
    """Every kind registered so far (``faults.ledger`` imports the
    built-in ones)."""
    return tuple(sorted(_REGISTRY))


def lookup(kind: str) -> RollbackFn:
    """The function for ``kind``.

    Raises:
        UsageError: no such kind (a typo, or a plugin not imported).
    """
    fn = _REGISTRY.get(kind)
    if fn is None:
        raise UsageError(
            f"unknown rollback kind {kind!r} (known: "
            f"{', '.join(sorted(_REGISTRY))}); register it with "
            "@rollback_kind"
        )
    return fn


def run_rollback(rollback: Rollback) -> None:
    """Call the rollback's function with its params."""
    lookup(rollback.kind)(rollback.params)


def _qualname(fn: RollbackFn) -> str:
    return f"{fn.__module__}.{getattr(fn, '__qualname__', fn)}"
