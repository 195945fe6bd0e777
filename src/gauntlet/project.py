"""Where the project lives: suites, pytest.ini, reports and the cache.

The suites are the product but not part of the installed package, so
commands find the checkout: ``$KUBE_GAUNTLET_PROJECT``, else the nearest
directory above the working directory with ``suites/`` and
``pytest.ini``, else the checkout this package was installed from.
"""

from __future__ import annotations

import os
from pathlib import Path

from gauntlet.errors import UsageError

__all__ = ["cache_root", "project_root", "reports_root"]


def project_root() -> Path:
    """The kube-gauntlet checkout to run suites from.

    Raises:
        UsageError: none of the places holds ``suites/`` and ``pytest.ini``.
    """
    configured = os.environ.get("KUBE_GAUNTLET_PROJECT")
    if configured:
        root = Path(configured).expanduser().resolve()
        if not _is_project(root):
            raise UsageError(
                f"KUBE_GAUNTLET_PROJECT={configured} has no suites/ and "
                "pytest.ini: point it at the kube-gauntlet checkout"
            )
        return root
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if _is_project(candidate):
            return candidate
    source = Path(__file__).resolve().parents[2]
    if _is_project(source):
        return source
    raise UsageError(
        "cannot find the kube-gauntlet project (suites/ and pytest.ini): "
        "run from the checkout or set KUBE_GAUNTLET_PROJECT"
    )


def reports_root() -> Path:
    """``reports/`` of the project."""
    return project_root() / "reports"


def _is_project(path: Path) -> bool:
    return (path / "suites").is_dir() and (path / "pytest.ini").is_file()


def cache_root() -> Path:
    """Where builds and tools are cached: ``$KUBE_GAUNTLET_CACHE``, else
    ``~/.cache/kube-gauntlet`` (kept across runs, never committed)."""
    configured = os.environ.get("KUBE_GAUNTLET_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "kube-gauntlet"
