"""More upstream e2e images, built so that conformance specs run on the lab.

Each is made the way upstream's Dockerfile makes it, from what the lab
has: kitten and nautilus are agnhost plus their pictures (from the
release's test/images), nonroot is a shell image whose user is 1234,
nonewprivs is the release's ``nnp`` installed setuid, and both nginx
tags are Debian's nginx (fetched, not installed) serving a static page
on port 80 as the upstream alpine nginx does. ``agnhost:2.55`` (the
suite's previous agnhost, which rollout specs update from and to) is the
pinned agnhost under the older tag: the specs need two names, not what
changed between the versions. Images the lab cannot make (the sample API
server and its etcd) are in ``data/conformance-images.json``.
"""

from __future__ import annotations

from pathlib import Path

from gauntlet.images import E2E_REGISTRY
from gauntlet.lab import images
from gauntlet.lab.host_tools import debian_program, host_program_files
from gauntlet.lab.oci import ImageFile, build_oci_image

__all__ = ["LAB_SPEC_DIFFERENCES", "SPEC_IMAGES", "build_spec_images"]

AGNHOST_PREV_IMAGE = f"{E2E_REGISTRY}/agnhost:2.55"
KITTEN_IMAGE = f"{E2E_REGISTRY}/kitten:1.8"
NAUTILUS_IMAGE = f"{E2E_REGISTRY}/nautilus:1.8"
NONROOT_IMAGE = f"{E2E_REGISTRY}/nonroot:1.5"
NONEWPRIVS_IMAGE = f"{E2E_REGISTRY}/nonewprivs:1.4"
NGINX_IMAGES = (
    f"{E2E_REGISTRY}/nginx:1.27.0-2",
    f"{E2E_REGISTRY}/nginx:1.28.0-2",
)
SPEC_IMAGES = (
    AGNHOST_PREV_IMAGE,
    KITTEN_IMAGE,
    NAUTILUS_IMAGE,
    NONROOT_IMAGE,
    NONEWPRIVS_IMAGE,
    *NGINX_IMAGES,
)
"""Upstream names, as the pinned release's manifest.go has them."""

LAB_SPEC_DIFFERENCES = {
    "[sig-node] Kubelet when scheduling a read only busybox container "
    "should not write to root filesystem [LinuxOnly] [Conformance] "
    "[NodeConformance]": "expects busybox ash's own error text; the lab's "
    "busybox image runs bash as sh, since Debian's busybox 1.35 shell "
    "drops variables whose names are no identifiers, which four other "
    "specs check",
}
"""Specs the lab's stand-in images cannot pass, with why: ``gauntlet run``
sets them aside on the lab (and names them), never on another cluster."""

_NGINX_CONF = b"""user root;
worker_processes 1;
error_log stderr notice;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    access_log /dev/stdout;
    server {
        listen 80;
        listen [::]:80;
        root /usr/share/nginx/html;
        index index.html;
    }
}
"""
_PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\n"
    b"nginx:x:101:101:nginx:/nonexistent:/bin/false\n"
)
_GROUP = b"root:x:0:\nnginx:x:101:\n"
_NGINX_INDEX = (
    b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>\n"
)


def build_spec_images(
    cache_dir: Path, agnhost: Path, nonewprivs: Path, source: Path
) -> list[Path]:
    """Every image of ``SPEC_IMAGES``; ``source`` is the release's tree
    (``test/images``), ``agnhost`` and ``nonewprivs`` its built binaries."""
    pictures = source / "test" / "images"
    porter = pictures / "agnhost" / "porter"
    built = [
        images.build_agnhost_image(
            cache_dir, agnhost, name=AGNHOST_PREV_IMAGE, porter=porter
        )
    ]
    for name, picture in (
        (KITTEN_IMAGE, "kitten"),
        (NAUTILUS_IMAGE, "nautilus"),
    ):
        html = pictures / picture / "html"
        extra = [
            ImageFile(f"{picture}.jpg", source=html / f"{picture}.jpg"),
            ImageFile("data.json", source=html / "data.json"),
        ]
        built.append(
            images.build_agnhost_image(
                cache_dir,
                agnhost,
                name=name,
                extra=extra,
                cmd=["test-webserver"],
                porter=porter,
            )
        )
    built.append(_shell_image(cache_dir, NONROOT_IMAGE, [], user="1234"))
    nnp = ImageFile(
        "usr/local/bin/nnp", content=nonewprivs.read_bytes(), mode=0o4755
    )
    built.append(_shell_image(cache_dir, NONEWPRIVS_IMAGE, [nnp], cmd=["nnp"]))
    built += [_nginx_image(cache_dir, name) for name in NGINX_IMAGES]
    return built


def _shell_image(
    cache_dir: Path,
    name: str,
    extra: list[ImageFile],
    user: str = "0",
    cmd: tuple[str, ...] | list[str] = ("sh",),
) -> Path:
    out = images.cache_path(cache_dir, name)
    if images.holds(out, name):
        return out
    files = [*images.busybox_files(Path("/bin/busybox"), ("sh",)), *extra]
    return build_oci_image(
        name, files, out, cmd=cmd, user=user, env=(images.ALPINE_PATH,)
    )


def _nginx_image(cache_dir: Path, name: str) -> Path:
    out = images.cache_path(cache_dir, name)
    if images.holds(out, name):
        return out
    nginx = debian_program("nginx", "usr/sbin/nginx", cache_dir)
    files = [
        *host_program_files({"usr/sbin/nginx": nginx}, {}),
        ImageFile("etc/nginx/nginx.conf", content=_NGINX_CONF, mode=0o644),
        ImageFile("etc/passwd", content=_PASSWD, mode=0o644),
        ImageFile("etc/group", content=_GROUP, mode=0o644),
        ImageFile(
            "usr/share/nginx/html/index.html", content=_NGINX_INDEX, mode=0o644
        ),
        ImageFile("var/lib/nginx", mode=0o755),
        ImageFile("var/log/nginx", mode=0o755),
        ImageFile("run", mode=0o755),
        ImageFile("tmp", mode=0o1777),
    ]
    return build_oci_image(
        name,
        files,
        out,
        cmd=["nginx", "-g", "daemon off;"],
        env=(
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
    )
