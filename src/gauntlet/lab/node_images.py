"""Which image archives each lab node imports, built once into the cache.

Every node that runs containers gets the sandbox, test and DNS images; a
``kubeadm``-flavored lab adds the control-plane images kubeadm runs
(control-plane nodes) and kube-proxy's (every node).
"""

from __future__ import annotations

from pathlib import Path

from gauntlet import progress
from gauntlet.gobuild.build import ensure_built
from gauntlet.lab import build, cp_images, images, spec_images
from gauntlet.lab.kubeadm_config import images as kubeadm_images
from gauntlet.lab.topology import LabNode, Topology
from gauntlet.lab.versions import Release
from gauntlet.project import cache_root

IMAGES_REVISION = 6
"""Bumped when a lab image gains files under the same name (6: busybox
and agnhost with bash as sh; agnhost with nc, curl, dig, ip, socat,
upstream's user and serving certificate): archives cached by an older
revision are then rebuilt, since an image's name alone cannot tell."""


def node_images(
    release: Release, topology: Topology, coredns_dir: Path
) -> dict[str, list[Path]]:
    """Node name -> the archives its bootstrap imports."""
    cache = cache_root() / "images" / f"r{IMAGES_REVISION}"
    # agnhost always from the pinned release, whose tag its image carries,
    # whatever release the lab runs.
    agnhost_dir = ensure_built(build.kubernetes_build())
    source = build.kubernetes_source()
    with progress.step("Building images"):
        pause_c = (
            build.kubernetes_source(release)
            / "build"
            / "pause"
            / "linux"
            / "pause.c"
        )
        common = [
            images.build_pause_image(cache, pause_c),
            images.build_agnhost_image(
                cache,
                agnhost_dir / "agnhost",
                porter=source / "test" / "images" / "agnhost" / "porter",
            ),
            images.build_busybox_image(cache),
            images.build_glibc_dns_image(cache),
            *spec_images.build_spec_images(
                cache,
                agnhost_dir / "agnhost",
                agnhost_dir / "nonewprivs",
                source,
            ),
            images.build_coredns_image(cache, coredns_dir / "coredns"),
        ]
        control: list[Path] = []
        proxy: list[Path] = []
        if topology.flavor == "kubeadm":
            control, proxy = _kubeadm_images(release, cache)
    return {n.name: _for(n, common, control, proxy) for n in topology.nodes}


def _for(
    node: LabNode, common: list[Path], control: list[Path], proxy: list[Path]
) -> list[Path]:
    return [*common, *proxy, *(control if node.control_plane else [])]


def _kubeadm_images(
    release: Release, cache: Path
) -> tuple[list[Path], list[Path]]:
    """(control-plane images, [kube-proxy image]) of ``release``."""
    k8s = build.kubernetes_build(release).out_dir
    etcd = build.etcd_build(release).out_dir
    control: list[Path] = []
    proxy: list[Path] = []
    for name, binary in kubeadm_images(release).items():
        if binary == "etcd":
            # etcd with its command-line tools, as upstream's image has them
            bins = sorted(p for p in etcd.iterdir() if p.name[0] != ".")
            control.append(cp_images.build_binary_image(cache, name, bins, []))
        elif binary == "kube-proxy":
            extra = cp_images.iptables_files()
            proxy.append(
                cp_images.build_binary_image(cache, name, [k8s / binary], extra)
            )
        else:
            control.append(
                cp_images.build_binary_image(cache, name, [k8s / binary], [])
            )
    return control, proxy
