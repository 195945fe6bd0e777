"""OCI images for the lab, built locally so no node ever pulls.

Each image is a single-layer OCI image-layout tar that the node bootstrap
imports with ``ctr -n k8s.io images import``. Builds are byte-for-byte
deterministic (sorted entries, mtime 0, uid/gid 0, gzip without a timestamp)
so a rebuilt image has the same digest and containerd sees nothing new.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gauntlet.errors import LabError
from gauntlet.images import COREDNS_IMAGE, PAUSE_IMAGE, WORKLOAD_IMAGE

_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_CONFIG = "application/vnd.oci.image.config.v1+json"
_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_LAYER_PLAIN = "application/vnd.oci.image.layer.v1.tar"
_INDEX = "application/vnd.oci.image.index.v1+json"

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


@dataclass(frozen=True)
class ImageFile:
    """One entry of the image's layer.

    Set at most one of ``source`` (host file; its mode is kept), ``content``
    (written with ``mode``) or ``symlink``; with none set the entry is a
    directory with ``mode`` (e.g. ``tmp`` with 0o1777).
    """

    path: str
    source: Path | None = None
    content: bytes | None = None
    mode: int = 0o755
    symlink: str | None = None


def build_oci_image(
    name: str,
    files: Sequence[ImageFile],
    out: Path,
    *,
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
    env: Sequence[str] = ("PATH=/bin:/usr/bin:/sbin:/usr/sbin",),
    workdir: str = "/",
    user: str = "0",
    compress: bool = True,
) -> Path:
    """Write image ``name`` as an OCI image-layout tar at ``out``."""
    tag = _tag_of(name)
    layer = _layer_tar(files)
    layer_gz = _gzip(layer) if compress else layer
    layer_type = _LAYER if compress else _LAYER_PLAIN
    runtime: dict[str, object] = {
        "Env": list(env),
        "WorkingDir": workdir,
        "User": user,
    }
    if entrypoint:
        runtime["Entrypoint"] = list(entrypoint)
    if cmd:
        runtime["Cmd"] = list(cmd)
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
            "history": [{"created_by": "kube-gauntlet images.py"}],
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": _MANIFEST,
            "config": _descriptor(_CONFIG, config),
            "layers": [_descriptor(layer_type, layer_gz)],
        }
    )
    manifest_desc = _descriptor(_MANIFEST, manifest)
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    manifest_desc["annotations"] = {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": tag,
    }
    index = {
        "schemaVersion": 2,
        "mediaType": _INDEX,
        "manifests": [manifest_desc],
    }
    entries: dict[str, bytes | None] = {
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        "index.json": _json(index),
        "blobs/": None,
        "blobs/sha256/": None,
    }
    for blob in (layer_gz, config, manifest):
        entries["blobs/sha256/" + _digest(blob).removeprefix("sha256:")] = blob
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, data in entries.items():
            if data is None:
                tf.addfile(_tarinfo(path.rstrip("/"), tarfile.DIRTYPE, 0o755))
            else:
                info = _tarinfo(path, tarfile.REGTYPE, 0o644, len(data))
                tf.addfile(info, io.BytesIO(data))
    _write_atomic(out, outer.getvalue())
    return out


def build_pause_image(cache_dir: Path, pause_c: Path) -> Path:
    """Compile Kubernetes' own pause.c statically, like the upstream image."""
    out = _cache_path(cache_dir, PAUSE_IMAGE)
    if out.exists():
        return out
    if not pause_c.is_file():
        raise LabError(f"pause source {pause_c} not found")
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pause"
        version = _tag_of(PAUSE_IMAGE)
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


def _layer_tar(files: Sequence[ImageFile]) -> bytes:
    """The uncompressed layer: sorted entries, implicit parents, no owners."""
    dirs: dict[str, int] = {}
    leaves: dict[str, ImageFile] = {}
    seen: set[str] = set()
    for f in files:
        path = _clean(f.path)
        if path in seen:
            raise LabError(f"image path {f.path!r} is listed twice")
        seen.add(path)
        if _is_dir(f):
            dirs[path] = f.mode
        else:
            leaves[path] = f
        for parent in PurePosixPath(path).parents:
            if str(parent) != ".":
                dirs.setdefault(str(parent), 0o755)
    clash = sorted(set(dirs) & set(leaves))
    if clash:
        raise LabError(f"image path {clash[0]!r} is both a file and a dir")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted({*dirs, *leaves}):
            if path in dirs:
                tf.addfile(_tarinfo(path, tarfile.DIRTYPE, dirs[path]))
                continue
            f = leaves[path]
            if f.symlink is not None:
                info = _tarinfo(path, tarfile.SYMTYPE, 0o777)
                info.linkname = f.symlink
                tf.addfile(info)
                continue
            data, mode = _file_data(f)
            info = _tarinfo(path, tarfile.REGTYPE, mode, len(data))
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _is_dir(f: ImageFile) -> bool:
    """An entry with nothing to copy, write or link is a directory."""
    set_ = [x for x in (f.source, f.content, f.symlink) if x is not None]
    if len(set_) > 1:
        raise LabError(f"image path {f.path!r} sets more than one source")
    return not set_


def _file_data(f: ImageFile) -> tuple[bytes, int]:
    """Bytes and mode of a regular file entry."""
    if f.content is not None:
        return f.content, f.mode
    assert f.source is not None
    try:
        return f.source.read_bytes(), f.source.stat().st_mode & 0o7777
    except OSError as exc:
        raise LabError(f"cannot read {f.source} for the image: {exc}") from exc


def _clean(path: str) -> str:
    """Normalise an in-image path to ``a/b``; refuse escapes and the root."""
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".")]
    if not parts or ".." in parts:
        raise LabError(f"bad path inside the image: {path!r}")
    return "/".join(parts)


def _tarinfo(
    name: str, kind: bytes, mode: int, size: int = 0
) -> tarfile.TarInfo:
    """A tar header with everything that could vary between builds zeroed."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _gzip(data: bytes) -> bytes:
    """Gzip with no name and mtime 0 so the digest depends on content only."""
    buf = io.BytesIO()
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=buf, compresslevel=6, mtime=0
    ) as gz:
        gz.write(data)
    return buf.getvalue()


def _json(obj: object) -> bytes:
    """Canonical JSON, so equal objects always hash equal."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    """The OCI digest string of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    """An OCI content descriptor for ``data``."""
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


def _tag_of(name: str) -> str:
    """The tag of a reference like ``host/repo:tag`` (a port is no tag)."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":"):
        raise LabError(f"image name {name!r} has no tag")
    return last.rsplit(":", 1)[1]


def cache_path(cache_dir: Path, image: str) -> Path:
    """Where the image cache keeps the archive of ``image``."""
    return _cache_path(cache_dir, image)


def _cache_path(cache_dir: Path, image: str) -> Path:
    """``<cache>/<repo-basename>-<tag>.tar`` for a reference."""
    repo = image.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    return cache_dir / f"{repo}-{_tag_of(image)}.tar"


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


def _write_atomic(out: Path, data: bytes) -> None:
    """Write via tmp file + rename so a crash never leaves a half image."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
