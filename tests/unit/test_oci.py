"""OCI image-layout tars: valid, deterministic, readable back by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from oci_layout import read_layout

from gauntlet.errors import LabError
from gauntlet.lab.oci import ImageFile, build_oci_image, image_name, tag_of


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


def test_image_name_reads_the_index(tmp_path: Path) -> None:
    out = small_image(tmp_path, tmp_path / "small.tar")
    assert image_name(out) == "localhost/test/small:0.1"
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar")
    assert image_name(garbage) is None
    assert image_name(tmp_path / "absent.tar") is None


def test_tag_is_after_the_last_colon_of_the_last_part() -> None:
    assert tag_of("registry.k8s.io/pause:3.10.2") == "3.10.2"
    assert tag_of("localhost:5000/a/b:v1.2") == "v1.2"
