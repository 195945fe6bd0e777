"""The runner image: this host's Python with gauntlet, its dependencies
and its suites inside.

In-cluster load workers (``gauntlet.load.in_cluster``) run the very
locustfile the runner's master runs, and a scheduled run
(``gauntlet.schedule``) runs ``gauntlet run`` itself, so the image needs
the same interpreter, the same packages and the same gauntlet. The lab
cannot pull a Python base image, so the image is assembled from what
runs here: the interpreter and its standard library (moved to
``/usr/local``, as the python images have it), the shared libraries
``ldd`` resolves for them, the installed distributions kube-gauntlet
requires, and gauntlet's own modules and suites
(``gauntlet.lab.runner_project``). The archive is cached under a digest
of those inputs, so a change to any source rebuilds it and nothing else
does.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import re
import shutil
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

from packaging.requirements import Requirement

from gauntlet.errors import LabError
from gauntlet.images import RUNNER_IMAGE, RUNNER_PROJECT
from gauntlet.lab.host_tools import shared_libraries
from gauntlet.lab.images import archive_name
from gauntlet.lab.oci import ImageFile, build_oci_image
from gauntlet.lab.runner_project import DISTRIBUTION, project_files
from gauntlet.load.in_cluster import IMAGE_PREFIX

__all__ = [
    "PREFIX",
    "RUNNER_DISTRIBUTIONS",
    "build_runner_image",
    "runner_files",
    "runner_inputs_digest",
]

PREFIX = IMAGE_PREFIX.lstrip("/")
"""Where the interpreter lives in the image (``/usr/local/bin/python3``),
as the worker Job expects it."""
RUNNER_DISTRIBUTIONS = (DISTRIBUTION,)
"""kube-gauntlet's requirements, transitively: the kubernetes client,
Locust, pytest and its plugins, matplotlib, chaostoolkit. Its own files
come from the checkout (``runner_project``)."""
_SKIPPED_STDLIB = frozenset(
    {
        "test",
        "idlelib",
        "tkinter",
        "turtledemo",
        "ensurepip",
        "lib2to3",
        "site-packages",
        "__pycache__",
    }
)
"""Standard-library parts no worker imports (tests, GUIs, installers)."""
_SKIPPED_DYNLOAD = re.compile(
    r"^(_test|_xxtest|_tkinter|_curses|readline|nis|ossaudiodev|xxlimited)"
)
_SKIPPED_PACKAGE_DIRS = frozenset({"__pycache__", "tests", "test"})
_SKIPPED_PACKAGE_PATHS = (
    "kubernetes/aio/",
    "PIL/_tkinter_finder.py",
    "PIL/ImageTk.py",
)
"""The kubernetes client's asyncio twin (40 MB): gauntlet uses the
synchronous one; Pillow's Tk glue, useless without tkinter."""
_DIGEST_DIR = re.compile(r"[0-9a-f]{16}")
_PASSWD = (
    "root:x:0:0:root:/root:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\nnobody:x:65534:\n"


def build_runner_image(directory: Path, name: str = RUNNER_IMAGE) -> Path:
    """The runner image's OCI archive in ``directory``, built once per
    set of inputs (``runner_inputs_digest``) and name.

    The layer is uncompressed: the image is mostly Python sources that
    never leave the host, and gzip would cost more than the copy.

    Raises:
        LabError: a required distribution is not installed, or ``ldd``
            fails on the interpreter or an extension module.
    """
    files = runner_files()
    digest = runner_inputs_digest(files)
    out = directory / digest[:16] / archive_name(name)
    if out.is_file():
        return out
    if directory.is_dir():
        for stale in directory.iterdir():
            if _earlier_build(stale, out.name):
                shutil.rmtree(stale, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    return build_oci_image(
        name,
        files,
        out,
        entrypoint=[f"/{PREFIX}/bin/python3"],
        cmd=["-m", "locust", "--help"],
        env=(
            f"PATH=/{PREFIX}/bin:/usr/bin:/bin",
            f"LD_LIBRARY_PATH=/{PREFIX}/lib",
            "PYTHONDONTWRITEBYTECODE=1",
            "PYTHONUNBUFFERED=1",
            "HOME=/tmp",
            f"KUBE_GAUNTLET_PROJECT={RUNNER_PROJECT}",
        ),
        workdir="/tmp",
        user="65534:65534",
        compress=False,
    )


def _earlier_build(path: Path, archive: str) -> bool:
    """A digest-named directory holding only this image's archive (never
    anything else a user keeps next to it)."""
    if not (path.is_dir() and _DIGEST_DIR.fullmatch(path.name)):
        return False
    return [p.name for p in path.iterdir()] in ([archive], [])


def runner_inputs_digest(files: Iterable[ImageFile]) -> str:
    """sha256 over every entry's path, mode and bytes: the cache key."""
    h = hashlib.sha256(RUNNER_IMAGE.encode())
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"\0{f.path}\0{f.mode}\0{f.symlink}\0".encode())
        if f.content is not None:
            h.update(f.content)
        elif f.source is not None:
            h.update(_file_digest(f.source))
    return h.hexdigest()


def runner_files() -> list[ImageFile]:
    """Every entry of the runner image's single layer.

    Raises:
        LabError: see ``build_runner_image``.
    """
    base = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["stdlib"])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    inside_lib = f"{PREFIX}/lib/{version}"
    site = f"{inside_lib}/site-packages"
    interpreter = _interpreter(base, version)
    files = [
        ImageFile(f"{PREFIX}/bin/{version}", source=interpreter),
        ImageFile(f"{PREFIX}/bin/python3", symlink=version),
        ImageFile(f"{PREFIX}/bin/python", symlink=version),
        ImageFile("etc/passwd", content=_PASSWD.encode(), mode=0o644),
        ImageFile("etc/group", content=_GROUP.encode(), mode=0o644),
        ImageFile("tmp", mode=0o1777),
    ]
    extensions = [interpreter]
    for path in _stdlib_files(stdlib):
        files.append(
            ImageFile(f"{inside_lib}/{path.relative_to(stdlib)}", source=path)
        )
        if path.suffix == ".so":
            extensions.append(path)
    for dist_root, path in _distribution_files(RUNNER_DISTRIBUTIONS):
        files.append(
            ImageFile(f"{site}/{path.relative_to(dist_root)}", source=path)
        )
        if ".so" in path.suffixes:
            extensions.append(path)
    files += project_files(PREFIX, site)
    carried = {str(f.source) for f in files if f.source is not None}
    files += _libraries(extensions, carried, base)
    return files


def _interpreter(base: Path, version: str) -> Path:
    """The real binary behind ``sys.executable`` (not a venv's link)."""
    found = (base / "bin" / version).resolve()
    if not found.is_file():
        raise LabError(f"{found}: the interpreter of {sys.base_prefix} is gone")
    return found


def _stdlib_files(stdlib: Path) -> Iterator[Path]:
    """Modules and extension modules of the standard library, without
    tests, GUIs, installers and the static libpython."""
    for path in sorted(stdlib.rglob("*")):
        rel = path.relative_to(stdlib)
        if rel.parts[0] in _SKIPPED_STDLIB or rel.parts[0].startswith(
            "config-"
        ):
            continue
        if _SKIPPED_PACKAGE_DIRS & set(rel.parts[:-1]) or not path.is_file():
            continue
        if rel.parts[0] == "lib-dynload":
            if path.suffix == ".so" and not _SKIPPED_DYNLOAD.match(path.name):
                yield path
        elif path.suffix == ".py":
            yield path


def _distribution_files(names: Iterable[str]) -> Iterator[tuple[Path, Path]]:
    """(site-packages dir, file) for the distributions ``names`` need,
    requirements included, as their RECORD lists them; no bytecode, no
    scripts outside site-packages, no test suites."""
    for dist in _closure(names):
        root = Path(str(dist.locate_file(""))).resolve()
        for entry in dist.files or ():
            rel = str(entry)
            parts = Path(rel).parts
            if rel.startswith("..") or _SKIPPED_PACKAGE_DIRS & set(parts):
                continue
            if rel.endswith(".pyc") or rel.startswith(_SKIPPED_PACKAGE_PATHS):
                continue
            path = root / rel
            if path.is_file():
                yield root, path


def _closure(names: Iterable[str]) -> list[md.Distribution]:
    """The installed distributions ``names`` require, transitively
    (markers evaluated for this interpreter, no extras); kube-gauntlet's
    own is left to ``project_files``.

    Raises:
        LabError: one is not installed.
    """
    found: dict[str, md.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as exc:
            raise LabError(
                f"{name} is not installed in {sys.prefix}: the runner image "
                "carries what kube-gauntlet requires (pip install -e .)"
            ) from exc
        if key != DISTRIBUTION:  # its files: ``project_files``
            found[key] = dist
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return [found[k] for k in sorted(found)]


def _libraries(
    binaries: Iterable[Path], carried: set[str], base: Path
) -> list[ImageFile]:
    """The shared libraries ``binaries`` load and the image does not
    already carry: the interpreter's own (libpython) under the prefix,
    the system's at their paths."""
    libs: set[str] = set()
    for binary in binaries:
        libs.update(shared_libraries(binary))
    files = []
    for lib in sorted(libs):
        real = Path(lib).resolve()
        if str(real) in carried or str(Path(lib)) in carried:
            continue
        if Path(lib).is_relative_to(base):
            inside = f"{PREFIX}/{Path(lib).relative_to(base)}"
        else:
            inside = lib.lstrip("/")
        files.append(ImageFile(inside, source=real))
    return files


def _file_digest(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").digest()
    except OSError as exc:
        raise LabError(
            f"cannot read {path} for the runner image: {exc}"
        ) from exc
