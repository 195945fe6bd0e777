"""Host programs carried into lab images with the libraries they load.

Upstream images are built on distributions the lab cannot pull (alpine,
Debian bases); where a test image needs a dynamically linked tool (nc,
curl, dig, getent, iptables), the lab takes the host's Debian build of it
and every library ``ldd`` resolves for it, at the same paths.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from gauntlet.errors import LabError
from gauntlet.lab.oci import ImageFile

__all__ = ["debian_program", "host_program_files", "shared_libraries"]

_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def shared_libraries(binary: Path) -> list[str]:
    """The paths ``ldd`` resolves for ``binary`` (loader included)."""
    proc = subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise LabError(f"ldd {binary} failed: {proc.stderr.strip()}")
    found = []
    for line in proc.stdout.splitlines():
        m = _LDD_LINE.search(line)
        if m:
            found.append(m.group(1))
    return found


def host_program_files(
    programs: Mapping[str, Path], packages: Mapping[str, str]
) -> list[ImageFile]:
    """``programs`` (path in the image -> host binary) and their libraries.

    Raises:
        LabError: a program is missing on the host, naming the Debian
            package (``packages``: image path -> package) that has it.
    """
    files: list[ImageFile] = []
    libs: set[str] = set()
    for inside, host in programs.items():
        if not host.exists():
            package = packages.get(inside, "the package that has it")
            raise LabError(
                f"{host} missing: apt-get install {package} (the lab's test "
                "images carry the host's build of it)"
            )
        files.append(ImageFile(inside, source=host.resolve()))
        libs.update(shared_libraries(host))
    files += [
        ImageFile(lib.lstrip("/"), source=Path(lib).resolve())
        for lib in sorted(libs)
    ]
    return files


def debian_program(package: str, member: str, cache_dir: Path) -> Path:
    """``member`` (``usr/sbin/nginx``) of Debian's ``package``, fetched
    with ``apt-get download`` and unpacked once into ``cache_dir``, never
    installed (a package's scripts would start a host service). Its
    libraries must be the host's (``host_program_files`` takes them).

    Raises:
        LabError: the download or unpacking failed, naming the package.
    """
    unpacked = cache_dir / "debs" / package
    found = unpacked / member
    if found.is_file():
        return found
    work = cache_dir / "debs" / f".{package}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for argv in (
        # the package lists may be empty on a fresh machine: update once
        [
            "sh",
            "-c",
            f"apt-get download {package} || "
            f"(apt-get update -qq && apt-get download {package})",
        ],
        ["sh", "-c", "dpkg-deb -x ./*.deb root"],
    ):
        proc = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise LabError(
                f"{argv[-1]} failed for the lab's {package} image: "
                f"{(proc.stderr or proc.stdout).strip()[-300:]}"
            )
    if not (work / "root" / member).is_file():
        raise LabError(f"Debian's {package} has no {member}")
    shutil.rmtree(unpacked, ignore_errors=True)
    (work / "root").rename(unpacked)
    shutil.rmtree(work, ignore_errors=True)
    return found
