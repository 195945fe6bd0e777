"""Thin allure wrappers, so suites never import allure directly.

Without ``--alluredir`` allure's hooks have no listener and do nothing;
without allure installed at all these helpers do nothing either. A report
is a convenience and must never break a run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

try:
    import allure
    from allure_commons.types import AttachmentType

    _HAVE_ALLURE = True
except ImportError:  # pragma: no cover - allure-pytest is a dependency
    _HAVE_ALLURE = False

__all__ = [
    "attach_json",
    "attach_png",
    "attach_svg",
    "attach_text",
    "label",
    "parameter",
    "step",
    "suite",
    "tag",
]


def attach_json(name: str, obj: Any) -> None:
    """Attach ``obj`` as pretty JSON (``default=str`` for odd values)."""
    if not _HAVE_ALLURE:
        return
    body = json.dumps(obj, indent=2, sort_keys=True, default=str)
    allure.attach(body, name=name, attachment_type=AttachmentType.JSON)


def attach_text(name: str, text: str) -> None:
    """Attach plain text, e.g. an event dump or a command's output."""
    if not _HAVE_ALLURE:
        return
    allure.attach(text, name=name, attachment_type=AttachmentType.TEXT)


def attach_svg(name: str, data: bytes) -> None:
    """Attach an SVG image (a plot from ``reporting.plots``)."""
    if not _HAVE_ALLURE:
        return
    allure.attach(data, name=name, attachment_type=AttachmentType.SVG)


def attach_png(name: str, data: bytes) -> None:
    """Attach a PNG image."""
    if not _HAVE_ALLURE:
        return
    allure.attach(data, name=name, attachment_type=AttachmentType.PNG)


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """A named step in the allure report; just runs the block otherwise."""
    if not _HAVE_ALLURE:
        yield
        return
    with allure.step(title):
        yield


def label(name: str, *values: str) -> None:
    """Add a label to the running test's allure result."""
    if _HAVE_ALLURE:
        allure.dynamic.label(name, *values)  # type: ignore[no-untyped-call]


def tag(*tags: str) -> None:
    """Add tags to the running test's allure result."""
    if _HAVE_ALLURE:
        allure.dynamic.tag(*tags)  # type: ignore[no-untyped-call]


def parameter(name: str, value: str) -> None:
    """Show ``name = value`` in the test's header (used for measurements)."""
    if _HAVE_ALLURE:
        allure.dynamic.parameter(name, value)


def suite(parent: str, name: str) -> None:
    """Group the test in the report tree: ``parent`` > ``name``."""
    if _HAVE_ALLURE:
        allure.dynamic.parent_suite(parent)  # type: ignore[no-untyped-call]
        allure.dynamic.suite(name)  # type: ignore[no-untyped-call]
