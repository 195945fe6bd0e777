"""OCI images for the lab, built locally so no node ever pulls.

Each is one deterministic OCI image-layout tar (``gauntlet.lab.oci``)
that the node bootstrap imports with ``ctr -n k8s.io images import``.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from gauntlet.errors import LabError
from gauntlet.images import COREDNS_IMAGE, PAUSE_IMAGE, WORKLOAD_IMAGE
from gauntlet.lab.oci import ImageFile, build_oci_image, tag_of

_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\nnobody:x:65534:\n"

# Serves the pod's own name so tests can tell which replica answered.
_SERVE = """#!/bin/sh
set -e
mkdir -p /www
hostname > /www/index.html
echo ok > /www/healthz
echo ok > /www/ready
exec httpd -f -v -p "${PORT:-8080}" -h /www
"""


# Debian's static busybox wget crashes (glibc NSS in a static binary), so
# tests fetch over HTTP with nc: http-get HOST PORT [PATH] [TIMEOUT_S].
_HTTP_GET = """#!/bin/sh
host="$1"; port="${2:-80}"; path="${3:-/}"; t="${4:-5}"
reply=$(printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$path" "$host" \\
  | nc -w "$t" "$host" "$port") || exit 2
case "$reply" in
  "HTTP/1."?" 200"*) printf '%s\\n' "$reply" | sed '1,/^\\r\\{0,1\\}$/d' ;;
  *) printf '%s\\n' "$reply" | head -n 1 >&2; exit 1 ;;
esac
"""


def build_pause_image(cache_dir: Path, pause_c: Path) -> Path:
    """Compile Kubernetes' own pause.c statically, like the upstream image."""
    out = _cache_path(cache_dir, PAUSE_IMAGE)
    if out.exists():
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


def build_workload_image(
    cache_dir: Path, busybox: Path = Path("/bin/busybox")
) -> Path:
    """Busybox with every applet: web server, shell, wget, nslookup, nsenter."""
    out = _cache_path(cache_dir, WORKLOAD_IMAGE)
    if out.exists():
        return out
    _require_static(busybox)
    listing = _run([str(busybox), "--list"])
    applets = sorted({a for a in listing.split() if a and "/" not in a})
    if "sh" not in applets or "httpd" not in applets:
        raise LabError(f"{busybox} lacks the sh or httpd applet")
    files = [
        ImageFile("bin/busybox", source=busybox),
        ImageFile("bin/serve", content=_SERVE.encode(), mode=0o755),
        ImageFile("bin/http-get", content=_HTTP_GET.encode(), mode=0o755),
        ImageFile("etc/passwd", content=_PASSWD.encode(), mode=0o644),
        ImageFile("etc/group", content=_GROUP.encode(), mode=0o644),
        ImageFile("root", mode=0o700),
        ImageFile("tmp", mode=0o1777),
        ImageFile("www", mode=0o1777),
    ]
    files += [
        ImageFile(f"bin/{a}", symlink="busybox")
        for a in applets
        if a not in ("busybox", "serve", "http-get")
    ]
    return build_oci_image(WORKLOAD_IMAGE, files, out, cmd=["/bin/serve"])


def build_coredns_image(cache_dir: Path, coredns_binary: Path) -> Path:
    """The cluster DNS, from a CoreDNS binary built on the host."""
    out = _cache_path(cache_dir, COREDNS_IMAGE)
    if out.exists():
        return out
    _require_static(coredns_binary)
    files = [
        ImageFile("coredns", source=coredns_binary),
        ImageFile("etc/passwd", content=_PASSWD.encode(), mode=0o644),
        ImageFile("etc/group", content=_GROUP.encode(), mode=0o644),
    ]
    return build_oci_image(COREDNS_IMAGE, files, out, entrypoint=["/coredns"])


def _cache_path(cache_dir: Path, image: str) -> Path:
    """``<cache>/<repo-basename>-<tag>.tar`` for a reference."""
    repo = image.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    return cache_dir / f"{repo}-{tag_of(image)}.tar"


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
