"""The lab's images: upstream names, upstream entrypoints, and the applets
the pods' commands need; rebuilt only when missing or named otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from oci_layout import read_layout

from gauntlet.errors import LabError
from gauntlet.images import (
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    COREDNS_IMAGE,
    PAUSE_IMAGE,
)
from gauntlet.lab import images
from gauntlet.lab.images import (
    AGNHOST_APPLETS,
    BUSYBOX_APPLETS,
    archive_name,
    build_agnhost_image,
    build_busybox_image,
    build_coredns_image,
    build_pause_image,
)
from gauntlet.lab.oci import ImageFile

BUSYBOX = Path("/bin/busybox")
PAUSE_C = Path(
    "/root/go/pkg/mod/k8s.io/kubernetes@v1.37.2/build/pause/linux/pause.c"
)
needs_busybox = pytest.mark.skipif(
    not BUSYBOX.exists(), reason="busybox-static not installed"
)


def applets() -> list[str]:
    listing = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [a for a in listing if a != "busybox"]


def assert_busybox_tree(
    img: dict, needed: tuple[str, ...], replaced: tuple[str, ...] = ()
) -> None:
    m = img["members"]
    for applet in set(applets()) - set(replaced):
        assert m[f"bin/{applet}"].linkname == "busybox", applet
    for applet in needed:
        assert m[f"bin/{applet}"].issym(), applet
    assert img["contents"]["bin/busybox"] == BUSYBOX.read_bytes()
    assert m["tmp"].mode == 0o1777
    passwd = img["contents"]["etc/passwd"].decode()
    assert passwd.startswith("root:x:0:0:") and "\nnobody:" in passwd


@needs_busybox
def test_agnhost_image_runs_agnhost_with_alpines_tools(
    tmp_path: Path,
) -> None:
    # Any static binary stands in for agnhost here.
    out = build_agnhost_image(tmp_path, BUSYBOX)
    assert out == tmp_path / "agnhost-2.66.1.tar"
    img = read_layout(out)
    assert img["annotations"]["io.containerd.image.name"] == AGNHOST_IMAGE
    assert img["config"]["Entrypoint"] == ["/agnhost"]  # as upstream
    assert img["config"]["Cmd"] == ["pause"]
    assert "/usr/bin" in img["config"]["Env"][0]
    m = img["members"]
    assert m["agnhost"].isfile() and m["agnhost"].mode == 0o755
    assert m["agnhost-2"].linkname == "agnhost"
    assert {"sh", "nc", "nslookup", "kill", "sleep"} <= set(AGNHOST_APPLETS)
    # sh is bash and nc is openbsd's, as upstream's alpine image has them:
    # Debian's static busybox shell would run its own applets instead
    assert_busybox_tree(img, ("nslookup", "kill", "sleep"), ("sh", "nc"))
    assert m["bin/sh"].linkname == "bash"
    for tool in ("bin/bash", "usr/bin/nc", "usr/bin/curl", "usr/bin/dig"):
        assert m[tool].isfile(), tool
    assert "lib64/ld-linux-x86-64.so.2" in m  # their libraries come along
    assert (
        "\nuser-defined-in-image:x:1000:"
        in img["contents"]["etc/passwd"].decode()
    )
    assert (
        "group-defined-in-image:x:50000:"
        in img["contents"]["etc/group"].decode()
    )
    for absent in ("http-get", "serve"):
        assert f"bin/{absent}" not in m


@needs_busybox
def test_busybox_image_has_what_node_helpers_run(tmp_path: Path) -> None:
    img = read_layout(build_busybox_image(tmp_path))
    assert img["annotations"]["io.containerd.image.name"] == BUSYBOX_IMAGE
    assert img["config"]["Cmd"] == ["sh"]
    assert "Entrypoint" not in img["config"]
    assert set(BUSYBOX_APPLETS) >= {"nsenter", "sh", "sleep"}
    # sh is bash, which runs env as a program: busybox's own shell would
    # drop variables whose names are no identifiers, as specs check
    assert_busybox_tree(img, ("nsenter", "sleep", "env"), ("sh",))
    assert img["members"]["bin/sh"].linkname == "bash"
    assert img["members"]["bin/bash"].isfile()


@needs_busybox
def test_an_image_is_rebuilt_only_under_another_name(tmp_path: Path) -> None:
    out = build_busybox_image(tmp_path)
    mtime = out.stat().st_mtime_ns
    assert build_busybox_image(tmp_path) == out
    assert out.stat().st_mtime_ns == mtime  # cached
    mirrored = "m.local/e2e-test-images/busybox:1.37.0-2"
    assert build_busybox_image(tmp_path, name=mirrored) == out
    img = read_layout(out)
    assert img["annotations"]["io.containerd.image.name"] == mirrored


def test_archive_names_are_basename_and_tag() -> None:
    assert archive_name(AGNHOST_IMAGE) == "agnhost-2.66.1.tar"
    assert archive_name(BUSYBOX_IMAGE) == "busybox-1.37.0-2.tar"
    assert archive_name(PAUSE_IMAGE) == "pause-3.10.2.tar"
    assert archive_name(COREDNS_IMAGE) == "coredns-v1.14.6.tar"


def test_a_dynamic_busybox_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="dynamically linked"):
        build_busybox_image(tmp_path, busybox=Path("/bin/ls"))
    with pytest.raises(LabError, match="dynamically linked"):
        build_agnhost_image(tmp_path, Path("/bin/ls"))


@needs_busybox
def test_a_busybox_without_the_applets_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "_run", lambda _argv: "sh\nsleep\n")
    with pytest.raises(LabError, match="lacks applets: nsenter"):
        build_busybox_image(tmp_path)


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


@needs_busybox
def test_an_image_from_agnhost_carries_upstreams_certificate(
    tmp_path: Path,
) -> None:
    """Specs probe ``/localhost.crt`` through ``test-webserver`` on the
    images built FROM agnhost (StatefulSet pods run agnhost 2.55)."""
    porter = tmp_path / "porter"
    porter.mkdir()
    for name in ("localhost.crt", "localhost.key"):
        (porter / name).write_text(name)
    kitten = "registry.k8s.io/e2e-test-images/kitten:1.8"
    out = build_agnhost_image(
        tmp_path,
        BUSYBOX,
        name=kitten,
        extra=[ImageFile("kitten.jpg", content=b"jpg")],
        cmd=["test-webserver"],
        porter=porter,
    )
    img = read_layout(out)
    assert img["annotations"]["io.containerd.image.name"] == kitten
    assert img["config"]["Cmd"] == ["test-webserver"]
    assert img["contents"]["localhost.crt"] == b"localhost.crt"
    assert img["contents"]["kitten.jpg"] == b"jpg"
