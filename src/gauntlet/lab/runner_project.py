"""What makes the runner image run ``gauntlet run``, not just Locust.

The suites are the product but not part of the package, so the image
carries the checkout's ``suites/``, root ``conftest.py`` and
``pytest.ini`` at ``RUNNER_PROJECT`` (``$KUBE_GAUNTLET_PROJECT`` in the
image). pytest loads the gauntlet plugin by its ``pytest11`` entry point
(``-p gauntlet``), so the package gets a dist-info with the installed
distribution's entry points; ``/usr/local/bin/gauntlet`` is the console
script, run by the kernel through its ``#!`` line (the image has no
shell).
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import gauntlet
from gauntlet.errors import LabError
from gauntlet.images import RUNNER_PROJECT
from gauntlet.lab.oci import ImageFile
from gauntlet.project import project_root

__all__ = ["DISTRIBUTION", "PROJECT_FILES", "project_files"]

DISTRIBUTION = "kube-gauntlet"
PROJECT_FILES = ("conftest.py", "pytest.ini")
"""Beside ``suites/`` at the checkout's root."""
_SKIPPED = frozenset({"__pycache__", ".pytest_cache"})


def project_files(prefix: str, site: str) -> list[ImageFile]:
    """The suites, the root conftest and pytest.ini, the package with its
    dist-info, and the ``gauntlet`` script; ``prefix`` is where Python
    lives in the image, ``site`` its site-packages (both without the
    leading ``/``).

    Raises:
        UsageError: no checkout with suites/ and pytest.ini is found.
        LabError: kube-gauntlet is not installed.
    """
    files = _suites()
    files += _package(site)
    files.append(_script(prefix))
    return files


def _suites() -> list[ImageFile]:
    root = project_root()
    inside = RUNNER_PROJECT.lstrip("/")
    files = [
        ImageFile(f"{inside}/{name}", source=root / name)
        for name in PROJECT_FILES
    ]
    for path in sorted((root / "suites").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not _SKIPPED & set(rel.parts):
            if path.suffix != ".pyc":
                files.append(ImageFile(f"{inside}/{rel}", source=path))
    # The mount point of the reports volume, on a read-only root.
    files.append(ImageFile(f"{inside}/reports", mode=0o755))
    return files


def _package(site: str) -> list[ImageFile]:
    """Every module and data file of ``gauntlet``, and a dist-info made
    from the installed one (an editable install's own files point at the
    checkout, which the image does not have)."""
    package = Path(gauntlet.__file__).resolve().parent
    files = []
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package.parent)
        if path.is_file() and not _SKIPPED & set(rel.parts):
            if path.suffix != ".pyc":
                files.append(ImageFile(f"{site}/{rel}", source=path))
    try:
        dist = md.distribution(DISTRIBUTION)
    except md.PackageNotFoundError as exc:
        raise LabError(
            f"{DISTRIBUTION} is not installed: pip install -e . first"
        ) from exc
    info = f"{site}/kube_gauntlet-{gauntlet.__version__}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {DISTRIBUTION}\n"
        f"Version: {gauntlet.__version__}\n"
    )
    files += [
        ImageFile(f"{info}/METADATA", content=metadata.encode(), mode=0o644),
        ImageFile(
            f"{info}/entry_points.txt",
            content=(dist.read_text("entry_points.txt") or "").encode(),
            mode=0o644,
        ),
        ImageFile(f"{info}/top_level.txt", content=b"gauntlet\n", mode=0o644),
    ]
    return files


def _script(prefix: str) -> ImageFile:
    text = (
        f"#!/{prefix}/bin/python3\n"
        "import sys\n\n"
        "from gauntlet.cli.main import main\n\n"
        "sys.exit(main())\n"
    )
    return ImageFile(f"{prefix}/bin/gauntlet", content=text.encode())
