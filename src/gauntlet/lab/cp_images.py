"""Control-plane images for the ``kubeadm`` flavor, from the lab's binaries.

kubeadm runs the control plane from ``registry.k8s.io/kube-apiserver:vX``
and friends; the lab builds images of those names from the binaries it
built, laid out as upstream's (binaries in /usr/local/bin, no shell), so
kubeadm's image check finds them and no node pulls. kube-proxy also needs
iptables: the host's own, with the libraries and extensions it loads.
The layers are uncompressed: the binaries are large, the images never
leave the host, and gzip would cost more time than the copy.
"""

from __future__ import annotations

from pathlib import Path

from gauntlet.errors import LabError
from gauntlet.lab.host_tools import shared_libraries
from gauntlet.lab.images import cached_archive
from gauntlet.lab.oci import ImageFile, build_oci_image

IPTABLES_MULTI = Path("/usr/sbin/xtables-nft-multi")
XTABLES_DIR = Path("/usr/lib/x86_64-linux-gnu/xtables")
IPTABLES_NAMES = (
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
)
_PATH = "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def build_binary_image(
    cache_dir: Path, name: str, binaries: list[Path], extra: list[ImageFile]
) -> Path:
    """``name`` holding ``binaries`` in /usr/local/bin, built once."""
    out, built = cached_archive(cache_dir, name)
    if built:
        return out
    files = [ImageFile(f"usr/local/bin/{b.name}", source=b) for b in binaries]
    files += [ImageFile("tmp", mode=0o1777), *extra]
    return build_oci_image(name, files, out, env=(_PATH,), compress=False)


def iptables_files() -> list[ImageFile]:
    """The host's nft-backed iptables, its libraries and its extensions."""
    if not IPTABLES_MULTI.exists():
        raise LabError(
            f"{IPTABLES_MULTI} missing: apt-get install iptables "
            "(kube-proxy's image of the kubeadm lab carries the host's)"
        )
    extensions = sorted(XTABLES_DIR.glob("*.so"))
    files = [ImageFile("usr/sbin/xtables-nft-multi", source=IPTABLES_MULTI)]
    files += [
        ImageFile(f"usr/sbin/{n}", symlink="xtables-nft-multi")
        for n in IPTABLES_NAMES
    ]
    files += [
        ImageFile(str(e).lstrip("/"), source=e.resolve()) for e in extensions
    ]
    libs: set[str] = set()
    for binary in (IPTABLES_MULTI, *extensions):
        libs.update(shared_libraries(binary))
    files += [
        ImageFile(lib.lstrip("/"), source=Path(lib).resolve())
        for lib in sorted(libs)
    ]
    for conf in ("/etc/protocols", "/etc/ethertypes"):
        if Path(conf).exists():
            files.append(ImageFile(conf.lstrip("/"), source=Path(conf)))
    return files
