"""OCI image-layout tars, written so that equal inputs give equal bytes.

Each image is a single-layer OCI image-layout tar that ``ctr -n k8s.io
images import`` (and ``kind load image-archive``) accepts. Builds are
byte-for-byte deterministic (sorted entries, mtime 0, uid/gid 0, gzip
without a timestamp) so a rebuilt image has the same digest and
containerd sees nothing new.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gauntlet.errors import LabError

__all__ = ["ImageFile", "build_oci_image", "image_name", "tag_of"]

_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_CONFIG = "application/vnd.oci.image.config.v1+json"
_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_LAYER_PLAIN = "application/vnd.oci.image.layer.v1.tar"
_INDEX = "application/vnd.oci.image.index.v1+json"


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
    """Write image ``name`` as an OCI image-layout tar at ``out``
    (``compress=False``: a plain layer, for big binaries never shipped)."""
    tag = tag_of(name)
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


def tag_of(name: str) -> str:
    """The tag of a reference like ``host/repo:tag`` (a port is no tag)."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":"):
        raise LabError(f"image name {name!r} has no tag")
    return last.rsplit(":", 1)[1]


def image_name(archive: Path) -> str | None:
    """The name an archive's index gives its image; None if unreadable."""
    try:
        with tarfile.open(archive) as tf:
            member = tf.extractfile("index.json")
            index = json.loads(member.read()) if member else {}
        manifest = index["manifests"][0]
        return str(manifest["annotations"]["io.containerd.image.name"])
    except (OSError, tarfile.TarError, KeyError, IndexError, ValueError):
        return None


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
