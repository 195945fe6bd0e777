"""Lab OCI images: a valid, deterministic layout that containerd can import."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from gauntlet.errors import LabError
from gauntlet.lab.images import (
    COREDNS_IMAGE,
    PAUSE_IMAGE,
    WORKLOAD_IMAGE,
    ImageFile,
    build_coredns_image,
    build_oci_image,
    build_pause_image,
    build_workload_image,
)

BUSYBOX = Path("/bin/busybox")
PAUSE_C = Path(
    "/root/go/pkg/mod/k8s.io/kubernetes@v1.37.2/build/pause/linux/pause.c"
)
needs_busybox = pytest.mark.skipif(
    not BUSYBOX.exists(), reason="busybox-static not installed"
)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_layout(tar_path: Path) -> dict[str, Any]:
    """Walk index → manifest → config/layer, checking every descriptor."""
    with tarfile.open(tar_path) as tf:
        blobs = {
            m.name: tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile()
        }
    assert json.loads(blobs["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(blobs["index.json"])
    assert index["schemaVersion"] == 2
    (desc,) = index["manifests"]

    def blob(d: dict[str, Any]) -> bytes:
        data = blobs["blobs/sha256/" + d["digest"].removeprefix("sha256:")]
        assert sha(data) == d["digest"]
        assert len(data) == d["size"]
        return data

    manifest = json.loads(blob(desc))
    assert manifest["mediaType"] == desc["mediaType"]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    config_raw = blob(manifest["config"])
    config = json.loads(config_raw)
    (layer_desc,) = manifest["layers"]
    assert layer_desc["mediaType"].endswith("tar+gzip")
    layer = gzip.decompress(blob(layer_desc))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha(layer)]}
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    with tarfile.open(fileobj=io.BytesIO(layer)) as lt:
        members = {m.name.rstrip("/"): m for m in lt.getmembers()}
        contents = {
            n: lt.extractfile(m).read()  # type: ignore[union-attr]
            for n, m in members.items()
            if m.isfile()
        }
    return {
        "annotations": desc["annotations"],
        "config": config["config"],
        "members": members,
        "contents": contents,
        "names": list(members),
    }


def small_image(tmp_path: Path, out: Path) -> Path:
    src = tmp_path / "tool"
    if not src.exists():
        src.write_bytes(b"#!/bin/sh\necho hi\n")
        src.chmod(0o750)
    files = [
        ImageFile("bin/tool", source=src),
        ImageFile("/etc/motd", content=b"hello\n", mode=0o644),
        ImageFile("bin/alias", symlink="tool"),
        ImageFile("tmp", mode=0o1777),
        ImageFile("usr/share/deep/file", content=b"x"),
    ]
    return build_oci_image(
        "localhost/test/small:0.1",
        files,
        out,
        entrypoint=["/bin/tool"],
        cmd=["--flag"],
    )


def test_layout_is_consistent(tmp_path: Path) -> None:
    img = read_layout(small_image(tmp_path, tmp_path / "small.tar"))
    assert img["annotations"] == {
        "io.containerd.image.name": "localhost/test/small:0.1",
        "org.opencontainers.image.ref.name": "0.1",
    }
    assert img["config"] == {
        "Entrypoint": ["/bin/tool"],
        "Cmd": ["--flag"],
        "Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
        "WorkingDir": "/",
        "User": "0",
    }
    m = img["members"]
    assert m["bin/alias"].issym() and m["bin/alias"].linkname == "tool"
    assert m["bin/tool"].mode == 0o750
    assert m["etc/motd"].mode == 0o644
    assert m["tmp"].isdir() and m["tmp"].mode == 0o1777
    for parent in ("bin", "etc", "usr", "usr/share", "usr/share/deep"):
        assert m[parent].isdir() and m[parent].mode == 0o755
    assert img["names"] == sorted(img["names"])
    assert all((x.mtime, x.uid, x.gid) == (0, 0, 0) for x in m.values())
    assert img["contents"]["etc/motd"] == b"hello\n"


def test_build_is_deterministic(tmp_path: Path) -> None:
    a = small_image(tmp_path, tmp_path / "a.tar").read_bytes()
    b = small_image(tmp_path, tmp_path / "b.tar").read_bytes()
    assert a == b
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ([ImageFile("a", content=b"x", symlink="b")], "more than one"),
        ([ImageFile("a", content=b"x"), ImageFile("/a", content=b"y")],
         "twice"),
        ([ImageFile("../etc/x", content=b"x")], "bad path"),
        ([ImageFile("a", content=b"x"), ImageFile("a/b", content=b"y")],
         "both a file and a dir"),
    ],
)  # fmt: skip
def test_bad_files_are_refused(
    tmp_path: Path, files: list[ImageFile], match: str
) -> None:
    with pytest.raises(LabError, match=match):
        build_oci_image("localhost/x:1", files, tmp_path / "x.tar")


def test_name_needs_a_tag(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no tag"):
        build_oci_image("localhost:5000/x", [], tmp_path / "x.tar")


@needs_busybox
def test_workload_image(tmp_path: Path) -> None:
    out = build_workload_image(tmp_path)
    img = read_layout(out)
    assert img["annotations"]["io.containerd.image.name"] == WORKLOAD_IMAGE
    assert img["config"]["Cmd"] == ["/bin/serve"]
    m = img["members"]
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            assert m[f"bin/{applet}"].linkname == "busybox", applet
    for needed in ("sh", "wget", "nslookup", "nc", "nsenter", "httpd"):
        assert m[f"bin/{needed}"].issym()
    assert img["contents"]["bin/busybox"] == BUSYBOX.read_bytes()
    assert m["tmp"].mode == 0o1777
    passwd = img["contents"]["etc/passwd"].decode()
    assert passwd.startswith("root:x:0:0:") and "\nnobody:" in passwd
    assert b"nobody" in img["contents"]["etc/group"]
    serve = img["contents"]["bin/serve"]
    assert b"httpd -f -v -p" in serve and b"healthz" in serve
    check = subprocess.run(
        [str(BUSYBOX), "sh", "-n", "-c", serve.decode()], check=False
    )
    assert check.returncode == 0
    # Cached: a second call reuses the tar instead of rebuilding it.
    mtime = out.stat().st_mtime_ns
    assert build_workload_image(tmp_path) == out
    assert out.stat().st_mtime_ns == mtime


def test_workload_refuses_dynamic_busybox(tmp_path: Path) -> None:
    dynamic = Path("/bin/ls")
    with pytest.raises(LabError, match="dynamically linked"):
        build_workload_image(tmp_path, busybox=dynamic)


def test_non_elf_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "coredns"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(LabError, match="not a 64-bit ELF"):
        build_coredns_image(tmp_path, script)


@needs_busybox
def test_coredns_image(tmp_path: Path) -> None:
    # Any static binary stands in for CoreDNS here.
    img = read_layout(build_coredns_image(tmp_path, BUSYBOX))
    assert img["annotations"]["io.containerd.image.name"] == COREDNS_IMAGE
    assert img["config"]["Entrypoint"] == ["/coredns"]
    assert img["members"]["coredns"].mode == 0o755
    assert "etc/passwd" in img["contents"]


@pytest.mark.skipif(
    not PAUSE_C.exists() or shutil.which("gcc") is None,
    reason="needs gcc and the Kubernetes pause.c source",
)
def test_pause_image(tmp_path: Path) -> None:
    img = read_layout(build_pause_image(tmp_path, PAUSE_C))
    assert img["annotations"]["io.containerd.image.name"] == PAUSE_IMAGE
    assert img["config"]["Entrypoint"] == ["/pause"]
    binary = tmp_path / "pause"
    binary.write_bytes(img["contents"]["pause"])
    binary.chmod(0o755)
    version = subprocess.run(
        [str(binary), "-v"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "pause.c 3.10.2"


def test_pause_source_missing(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not found"):
        build_pause_image(tmp_path, tmp_path / "missing.c")
