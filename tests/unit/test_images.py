"""The lab's images: names, entrypoints and the applets pods need."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from oci_layout import read_layout

from gauntlet.errors import LabError
from gauntlet.lab.images import (
    COREDNS_IMAGE,
    PAUSE_IMAGE,
    WORKLOAD_IMAGE,
    build_coredns_image,
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
    assert version.stdout.strip() == "pause.c 3.10"


def test_pause_source_missing(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not found"):
        build_pause_image(tmp_path, tmp_path / "missing.c")
