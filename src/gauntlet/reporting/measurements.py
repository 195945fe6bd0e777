"""The one measurement record every check, probe and load run produces.

Modelled on chaoslib's run record (status, UTC start/end, duration, error)
so that a number in a report always says when it was taken, how long it
took, and whether taking it failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, cast

__all__ = [
    "Measurement",
    "MeasurementStatus",
    "Stopwatch",
    "utc_iso",
    "utc_now",
]

MeasurementStatus = Literal["ok", "failed"]


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z`` suffix."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Measurement:
    """A measured value, judged later against ``bound`` if one is given."""

    name: str
    """What was measured, e.g. ``pod_startup_p99``."""
    value: float | None
    """The number; ``None`` when taking it failed."""
    unit: str
    """Unit of ``value`` and ``bound``, e.g. ``s``, ``ms``, ``%``."""
    start: str
    """UTC ISO time the measurement began."""
    end: str
    """UTC ISO time the measurement ended."""
    duration_s: float
    """Wall time spent measuring."""
    status: MeasurementStatus = "ok"
    error: str | None = None
    """Why taking the measurement failed, when ``status`` is ``failed``."""
    bound: float | None = None
    """The limit the value is judged against (upper bound, same unit)."""
    guarantee: str | None = None
    """The catalogue ID this measurement is evidence for."""

    @property
    def exceeds_bound(self) -> bool:
        """True when a bound is set and the value is over it or missing."""
        if self.bound is None:
            return False
        return self.value is None or self.value > self.bound

    @classmethod
    def instant(
        cls,
        name: str,
        value: float,
        unit: str,
        *,
        bound: float | None = None,
        guarantee: str | None = None,
    ) -> Measurement:
        """A value computed elsewhere and recorded now (zero duration)."""
        now = utc_iso(utc_now())
        return cls(
            name=name,
            value=float(value),
            unit=unit,
            start=now,
            end=now,
            duration_s=0.0,
            bound=None if bound is None else float(bound),
            guarantee=guarantee,
        )

    @classmethod
    def spanning(
        cls,
        name: str,
        value: float,
        unit: str,
        span: tuple[float, float],
        *,
        bound: float | None = None,
        guarantee: str | None = None,
    ) -> Measurement:
        """A value the cluster took from ``span[0]`` to ``span[1]`` (epoch
        seconds) to show, e.g. a node's seconds to NotReady counted from
        the kubelet's stop: its start and end are those moments, so a
        timeline marks them where the verdict took them."""
        start, end = span
        return cls(
            name=name,
            value=float(value),
            unit=unit,
            start=utc_iso(datetime.fromtimestamp(start, UTC)),
            end=utc_iso(datetime.fromtimestamp(end, UTC)),
            duration_s=max(0.0, end - start),
            bound=None if bound is None else float(bound),
            guarantee=guarantee,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every field."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "start": self.start,
            "end": self.end,
            "duration_s": self.duration_s,
            "status": self.status,
            "error": self.error,
            "bound": self.bound,
            "guarantee": self.guarantee,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """Inverse of ``to_dict``; optional fields may be absent."""
        status = data.get("status", "ok")
        if status not in ("ok", "failed"):
            raise ValueError(f"measurement status {status!r}: not ok/failed")
        return cls(
            name=str(data["name"]),
            value=_opt_float(data.get("value")),
            unit=str(data["unit"]),
            start=str(data["start"]),
            end=str(data["end"]),
            duration_s=float(data["duration_s"]),
            status=cast(MeasurementStatus, status),
            error=_opt_str(data.get("error")),
            bound=_opt_float(data.get("bound")),
            guarantee=_opt_str(data.get("guarantee")),
        )

    def short(self, width: int = 0) -> str:
        """Compact text for tables: ``name=1.23 s (limit 5)``.

        With ``width``, the name is shortened so the value always shows.
        """
        value = (
            "failed"
            if self.value is None
            else (f"{self.value:.3g} {self.unit}")
        )
        if self.bound is not None:
            word = "OVER" if self.exceeds_bound else "limit"
            value += f" ({word} {self.bound:g})"
        name = self.name
        room = width - len(value) - 1
        if width and len(name) > room:
            name = name[: max(room - 1, 4)] + "~"
        return f"{name}={value}"


class Stopwatch:
    """Times a block; ``measurement`` is set when the block exits.

    An exception in the block still yields a record (status ``failed``,
    no value) and then propagates: the failure is evidence too.
    """

    def __init__(
        self,
        name: str,
        *,
        bound: float | None = None,
        guarantee: str | None = None,
    ) -> None:
        self.name = name
        self.bound = None if bound is None else float(bound)
        self.guarantee = guarantee
        self.measurement: Measurement | None = None
        self._start = utc_now()
        self._t0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = utc_now()
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._t0
        failed = exc is not None
        self.measurement = Measurement(
            name=self.name,
            value=None if failed else elapsed,
            unit="s",
            start=utc_iso(self._start),
            end=utc_iso(utc_now()),
            duration_s=elapsed,
            status="failed" if failed else "ok",
            error=f"{type(exc).__name__}: {exc}" if failed else None,
            bound=self.bound,
            guarantee=self.guarantee,
        )


def _opt_float(value: object) -> float | None:
    return None if value is None else float(cast(float, value))


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
