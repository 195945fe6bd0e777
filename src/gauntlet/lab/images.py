"""The lab's images, built locally under their upstream names.

A real cluster pulls the test images by these names (``gauntlet.images``);
the lab's nodes import identical-named ones and never pull: agnhost from
the pinned release's test/images/agnhost, busybox from Debian's
busybox-static, pause from the release's pause.c and CoreDNS from its
module. ``gauntlet images export`` writes the same archives for other
clusters. Each is one deterministic OCI tar (``gauntlet.lab.oci``),
rebuilt only when missing or named otherwise (a mirror).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gauntlet.errors import LabError
from gauntlet.images import (
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    COREDNS_IMAGE,
    GLIBC_DNS_IMAGE,
    PAUSE_IMAGE,
)
from gauntlet.lab.host_tools import host_program_files
from gauntlet.lab.oci import ImageFile, build_oci_image, image_name, tag_of

__all__ = [
    "AGNHOST_APPLETS",
    "ALPINE_PATH",
    "BUSYBOX_APPLETS",
    "archive_name",
    "cached_archive",
    "build_agnhost_image",
    "build_busybox_image",
    "build_coredns_image",
    "build_glibc_dns_image",
    "build_pause_image",
    "busybox_files",
    "cache_path",
    "holds",
]

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\nnobody:x:65534:\n"

_BUSYBOX = Path("/bin/busybox")
"""Debian's busybox-static: every applet in one static binary."""
AGNHOST_APPLETS = (
    "sh",
    "nc",
    "nslookup",
    "sleep",
    "kill",
    "cat",
    "rm",
    "touch",
    "printf",
    "sed",
    "head",
    "seq",
    "date",
    "test",
)
"""What test pods run besides agnhost itself (shell snippets, probes);
upstream agnhost (alpine) has all of them. Debian's static busybox
``wget`` crashes on name lookups (glibc NSS in a static binary), so HTTP
clients are ``nc`` snippets, never ``wget``."""
AGNHOST_USER = (
    "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
)
AGNHOST_GROUPS = (
    "user-defined-in-image:x:1000:\n"
    "group-defined-in-image:x:50000:user-defined-in-image\n"
)
"""The user and group upstream's agnhost defines (``adduser``), which
the supplemental-groups specs expect to find in the image."""
AGNHOST_PROGRAMS = {
    "bin/bash": Path("/bin/bash"),
    "usr/sbin/ip": Path("/usr/sbin/ip"),
    "usr/bin/socat": Path("/usr/bin/socat"),
    "usr/bin/nc": Path("/bin/nc.openbsd"),
    "usr/bin/curl": Path("/usr/bin/curl"),
    "usr/bin/dig": Path("/usr/bin/dig"),
    "usr/bin/getent": Path("/usr/bin/getent"),
}
"""Upstream agnhost's alpine adds netcat-openbsd, curl, bind-tools and
bash, and conformance specs call them (``nc -v -t -w 2``, ``dig
+search``); busybox's ``nc`` lacks those flags, so the host's builds come
in. ``/bin/sh`` is bash: Debian's static busybox shell runs its own
applets before anything on PATH, which would hide them."""
GLIBC_DNS_PROGRAMS = {
    "usr/bin/dig": Path("/usr/bin/dig"),
    "usr/bin/getent": Path("/usr/bin/getent"),
}
"""Upstream's glibc-dns-testing is Debian with dnsutils: the DNS specs'
glibc resolver client, next to agnhost's musl one."""
PROGRAM_PACKAGES = {
    "bin/bash": "bash",
    "usr/sbin/ip": "iproute2",
    "usr/bin/socat": "socat",
    "usr/bin/nc": "netcat-openbsd",
    "usr/bin/curl": "curl",
    "usr/bin/dig": "bind9-dnsutils",
    "usr/bin/getent": "libc-bin",
}
BUSYBOX_APPLETS = ("sh", "sleep", "nsenter")
"""What node helper pods run: ``nsenter -t 1`` into the host."""
ALPINE_PATH = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)


def build_pause_image(cache_dir: Path, pause_c: Path) -> Path:
    """Compile Kubernetes' own pause.c statically, like the upstream image."""
    out = cache_path(cache_dir, PAUSE_IMAGE)
    if holds(out, PAUSE_IMAGE):
        return out
    if not pause_c.is_file():
        raise LabError(f"pause source {pause_c} not found")
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pause"
        version = tag_of(PAUSE_IMAGE)
        cc = ["gcc", "-Os", "-static", f"-DVERSION={version}", "-o"]
        _run([*cc, str(binary), str(pause_c)])
        _run(["strip", str(binary)])
        files = [ImageFile("pause", source=binary)]
        return build_oci_image(
            PAUSE_IMAGE, files, out, entrypoint=["/pause"], user="65535:65535"
        )


def build_agnhost_image(
    cache_dir: Path,
    agnhost: Path,
    busybox: Path = _BUSYBOX,
    name: str = AGNHOST_IMAGE,
    extra: Sequence[ImageFile] = (),
    cmd: Sequence[str] = ("pause",),
    porter: Path | None = None,
) -> Path:
    """The e2e agnhost image: ``/agnhost`` (its entrypoint, as upstream)
    built from the pinned release, plus busybox applets where upstream's
    alpine has a shell and coreutils, and the host's nc, curl and dig.
    Images built ``FROM`` agnhost upstream add ``extra`` files and ``cmd``.
    ``porter`` (the release's ``test/images/agnhost/porter``) has the
    serving certificate upstream puts at ``/localhost.crt``, which specs
    probe through ``test-webserver``; the image's own user and group are
    upstream's too."""
    out = cache_path(cache_dir, name)
    if holds(out, name):
        return out
    _require_static(agnhost)
    files = [
        ImageFile("agnhost", source=agnhost),
        ImageFile("agnhost-2", symlink="agnhost"),
        ImageFile("uploads", mode=0o755),
        *busybox_files(
            busybox,
            AGNHOST_APPLETS,
            replaced=("sh", "nc"),
            passwd=_PASSWD + AGNHOST_USER,
            group=_GROUP + AGNHOST_GROUPS,
        ),
        ImageFile("bin/sh", symlink="bash"),
        *host_program_files(AGNHOST_PROGRAMS, PROGRAM_PACKAGES),
        *(
            ImageFile(name, source=porter / name)
            for name in ("localhost.crt", "localhost.key")
            if porter is not None
        ),
        *extra,
    ]
    return build_oci_image(
        name,
        files,
        out,
        entrypoint=["/agnhost"],
        cmd=cmd,
        env=(ALPINE_PATH,),
    )


def build_busybox_image(
    cache_dir: Path, busybox: Path = _BUSYBOX, name: str = BUSYBOX_IMAGE
) -> Path:
    """The e2e busybox image: every applet of a static busybox, ``sh`` by
    default, as upstream. ``sh`` is bash: Debian's static busybox shell
    runs applets such as ``env`` inside itself, which drops variables
    whose names are no shell identifiers (``data-1``); upstream's busybox
    runs them as programs, which keep them, and specs check that."""
    out = cache_path(cache_dir, name)
    if holds(out, name):
        return out
    files = [
        *busybox_files(busybox, BUSYBOX_APPLETS, replaced=("sh",)),
        ImageFile("bin/sh", symlink="bash"),
        *host_program_files({"bin/bash": Path("/bin/bash")}, PROGRAM_PACKAGES),
    ]
    return build_oci_image(name, files, out, cmd=["sh"])


def busybox_files(
    busybox: Path,
    required: Sequence[str],
    replaced: Sequence[str] = (),
    passwd: str = _PASSWD,
    group: str = _GROUP,
) -> list[ImageFile]:
    """``/bin/busybox`` with a link per applet but the ``replaced`` ones
    (the image carries other programs by their names), and a minimal /etc.

    Raises:
        LabError: ``busybox`` is not static or lacks a ``required`` applet.
    """
    _require_static(busybox)
    listing = _run([str(busybox), "--list"])
    applets = sorted({a for a in listing.split() if a and "/" not in a})
    missing = [a for a in required if a not in applets]
    if missing:
        raise LabError(f"{busybox} lacks applets: {', '.join(missing)}")
    files = [
        ImageFile("bin/busybox", source=busybox),
        ImageFile("etc/passwd", content=passwd.encode(), mode=0o644),
        ImageFile("etc/group", content=group.encode(), mode=0o644),
        ImageFile("root", mode=0o700),
        ImageFile("tmp", mode=0o1777),
    ]
    return files + [
        ImageFile(f"bin/{a}", symlink="busybox")
        for a in applets
        if a != "busybox" and a not in replaced
    ]


def build_glibc_dns_image(
    cache_dir: Path, busybox: Path = _BUSYBOX, name: str = GLIBC_DNS_IMAGE
) -> Path:
    """The e2e glibc-dns-testing image: a shell, ``dig`` and glibc's
    ``getent`` (the DNS conformance specs' glibc querier)."""
    out = cache_path(cache_dir, name)
    if holds(out, name):
        return out
    files = [
        *busybox_files(busybox, AGNHOST_APPLETS),
        *host_program_files(GLIBC_DNS_PROGRAMS, PROGRAM_PACKAGES),
    ]
    return build_oci_image(name, files, out, cmd=["sh"], env=(ALPINE_PATH,))


def build_coredns_image(cache_dir: Path, coredns_binary: Path) -> Path:
    """The cluster DNS, from a CoreDNS binary built on the host."""
    out = cache_path(cache_dir, COREDNS_IMAGE)
    if holds(out, COREDNS_IMAGE):
        return out
    _require_static(coredns_binary)
    files = [
        ImageFile("coredns", source=coredns_binary),
        ImageFile("etc/passwd", content=_PASSWD.encode(), mode=0o644),
        ImageFile("etc/group", content=_GROUP.encode(), mode=0o644),
    ]
    return build_oci_image(COREDNS_IMAGE, files, out, entrypoint=["/coredns"])


def archive_name(image: str) -> str:
    """``<repo-basename>-<tag>.tar`` for a reference."""
    repo = image.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    return f"{repo}-{tag_of(image)}.tar"


def cached_archive(cache_dir: Path, image: str) -> tuple[Path, bool]:
    """Where the cache keeps ``image``'s archive, and whether an earlier
    build left one there that holds it by that name."""
    out = cache_path(cache_dir, image)
    return out, holds(out, image)


def cache_path(cache_dir: Path, image: str) -> Path:
    return cache_dir / archive_name(image)


def holds(archive: Path, image: str) -> bool:
    """An archive from an earlier build holds ``image`` by that name (a
    mirror's name is another image)."""
    return archive.is_file() and image_name(archive) == image


def _require_static(binary: Path) -> None:
    """Refuse dynamically linked binaries: the images have no libc to load."""
    try:
        with binary.open("rb") as fh:
            head = fh.read(64)
            if head[:5] != b"\x7fELF\x02":
                raise LabError(f"{binary} is not a 64-bit ELF executable")
            phoff = struct.unpack_from("<Q", head, 0x20)[0]
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            fh.seek(phoff)
            table = fh.read(phentsize * phnum)
    except OSError as exc:
        raise LabError(f"cannot read {binary}: {exc}") from exc
    for i in range(phnum):
        if struct.unpack_from("<I", table, i * phentsize)[0] == 3:  # INTERP
            raise LabError(f"{binary} is dynamically linked; need a static one")


def _run(argv: list[str]) -> str:
    """Run a build tool; on failure say which and show its last error line."""
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise LabError(f"{argv[0]} not found; install it to build lab images")
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit code {proc.returncode}"
        raise LabError(f"{' '.join(argv[:2])} failed: {last}")
    return proc.stdout
