"""Allure's ``environment.properties``: the cluster a run was taken on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_environment"]


def write_environment(results_dir: Path, values: Mapping[str, str]) -> Path:
    """Write ``values`` as Java properties into ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "environment.properties"
    lines = [f"{_escape(k, key=True)}={_escape(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _escape(text: str, key: bool = False) -> str:
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "")
    if key:
        for char in "=: ":
            out = out.replace(char, "\\" + char)
    return out
