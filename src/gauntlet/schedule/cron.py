"""A CronJob schedule checked before it reaches the cluster.

The API server would refuse a bad schedule only when the manifest is
applied, long after it was written to a file or a repository, so
``gauntlet schedule print`` checks the five standard fields itself, the
way the API server parses them (robfig/cron's standard parser): minute, hour,
day of month, month, day of week (0-6, Sunday is 0), each ``*`` (or
``?``), a number, a range, a step (``*/15``, ``1-5/2``) or a comma list
of those; month and weekday names (``jan``, ``mon``) and the macros
``@hourly`` ... ``@yearly``.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from gauntlet.errors import UsageError

__all__ = ["MACROS", "check_cron", "check_time_zone"]

MACROS = frozenset(
    {
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    }
)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DAYS = "sun mon tue wed thu fri sat".split()


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names for ``low``, ``low + 1``, ... (case-insensitive)."""

    def number(self, text: str, expr: str) -> int:
        lowered = text.lower()
        if lowered in self.names:
            return self.low + self.names.index(lowered)
        if not text.isdigit():
            raise _bad(expr, f"{self.name} {text!r} is not a number")
        value = int(text)
        if not self.low <= value <= self.high:
            raise _bad(
                expr,
                f"{self.name} {value} is out of range {self.low}-{self.high}",
            )
        return value


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, tuple(_MONTHS)),
    _Field("day of week", 0, 6, tuple(_DAYS)),
)
_PART = re.compile(r"^(?P<range>[*?]|[^-/]+(?:-[^-/]+)?)(?:/(?P<step>.+))?$")


def check_cron(expr: str) -> str:
    """``expr`` with its whitespace normalised, if the CronJob controller
    will take it.

    Raises:
        UsageError: not five fields (or a macro), or a field out of
            range, naming the field.
    """
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise _bad(expr, f"unknown macro; use one of {_macros()}")
        return text.lower()
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise _bad(expr, "no time zone in the schedule; use --time-zone")
    fields = text.split(" ")
    if len(fields) != len(_FIELDS):
        raise _bad(
            expr,
            f"{len(fields) if text else 0} field(s), expected 5: minute "
            f"hour day-of-month month day-of-week (e.g. '0 3 * * 1'), or "
            f"one of {_macros()}",
        )
    for field, value in zip(_FIELDS, fields, strict=True):
        for part in value.split(","):
            _check_part(field, part, expr)
    return text


def _check_part(field: _Field, part: str, expr: str) -> None:
    match = _PART.match(part)
    if match is None:
        raise _bad(expr, f"{field.name} {part!r} is not a value")
    span, step = match.group("range"), match.group("step")
    if step is not None and (not step.isdigit() or int(step) == 0):
        raise _bad(expr, f"{field.name} step {step!r} is not a number > 0")
    if span in ("*", "?"):
        return
    low_text, _, high_text = span.partition("-")
    low = field.number(low_text, expr)
    if high_text and field.number(high_text, expr) < low:
        raise _bad(expr, f"{field.name} range {span!r} runs backwards")


def _macros() -> str:
    return ", ".join(sorted(MACROS))


def _bad(expr: str, why: str) -> UsageError:
    return UsageError(f"cron schedule {expr!r}: {why}")


def check_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (``Europe/Berlin``), as the
    CronJob's ``timeZone`` needs.

    Raises:
        UsageError: no such zone in this host's time zone database.
    """
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise UsageError(
            f"time zone {name!r}: not an IANA time zone name (e.g. UTC, "
            "Europe/Berlin)"
        ) from exc
    return name
