"""Test images go by their upstream names, pinned to the pinned release's,
and ``--image-repo`` rewrites every one of them to a mirror."""

import os
import re
from pathlib import Path

import pytest

from gauntlet import images
from gauntlet.config import SETTINGS
from gauntlet.errors import UsageError
from gauntlet.images import (
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    COREDNS_IMAGE,
    GLIBC_DNS_IMAGE,
    IMAGE_REPO_ENV,
    NODE_IMAGE_ENV,
    PAUSE_IMAGE,
    WORKLOAD_IMAGE_ENV,
    check_repo,
    node_helper_image,
    run_images,
    with_repo,
    workload_image,
)
from gauntlet.lab.versions import CURRENT

MODULE = (
    Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    / f"k8s.io/kubernetes@{CURRENT.kubernetes}"
)
MANIFEST_GO = MODULE / "test" / "utils" / "image" / "manifest.go"
KUBEADM_CONSTANTS = (
    MODULE / "cmd" / "kubeadm" / "app" / "constants" / "constants.go"
)
KUBEADM_DEFAULTS = (
    MODULE / "cmd" / "kubeadm" / "app" / "apis" / "kubeadm" / "v1beta4"
)


def e2e_images(text: str) -> dict[str, str]:
    """ImageID -> full name, as manifest.go's initImageConfigs makes them."""
    registries = dict(re.findall(r"(\w+Registry):\s*\"([^\"]+)\"", text))
    configs = re.findall(
        r"configs\[(\w+)\]\s*=\s*Config\{list\.(\w+),\s*\"([^\"]+)\","
        r"\s*\"([^\"]+)\"\}",
        text,
    )
    return {
        image_id: f"{registries[registry]}/{name}:{tag}"
        for image_id, registry, name, tag in configs
    }


def go_constant(text: str, name: str) -> str:
    found = re.search(rf"\b{name}\s*=\s*\"([^\"]+)\"", text)
    assert found, f"{name} not found"
    return found.group(1)


needs_module = pytest.mark.skipif(
    not MANIFEST_GO.is_file(),
    reason=f"k8s.io/kubernetes@{CURRENT.kubernetes} source not downloaded",
)


@needs_module
def test_pins_are_the_pinned_releases_e2e_and_kubeadm_images():
    e2e = e2e_images(MANIFEST_GO.read_text())
    assert AGNHOST_IMAGE == e2e["Agnhost"]
    assert BUSYBOX_IMAGE == e2e["BusyBox"]
    assert GLIBC_DNS_IMAGE == e2e["GlibcDnsTesting"]
    assert PAUSE_IMAGE == e2e["Pause"]
    constants = KUBEADM_CONSTANTS.read_text()
    defaults = "\n".join(
        f.read_text() for f in sorted(KUBEADM_DEFAULTS.glob("defaults*.go"))
    )
    repo = go_constant(defaults, "DefaultImageRepository")
    pause = go_constant(constants, "PauseVersion")
    assert PAUSE_IMAGE == f"{repo}/pause:{pause}"
    name = go_constant(constants, "CoreDNSImageName")
    tag = go_constant(constants, "CoreDNSVersion")
    # kubeadm names the official image <repo>/coredns/coredns.
    assert COREDNS_IMAGE == f"{repo}/coredns/{name}:{tag}"


@needs_module
def test_the_labs_spec_images_carry_the_pinned_releases_names():
    from gauntlet.lab import spec_images

    e2e = e2e_images(MANIFEST_GO.read_text())
    assert spec_images.AGNHOST_PREV_IMAGE == e2e["AgnhostPrev"]
    assert spec_images.KITTEN_IMAGE == e2e["Kitten"]
    assert spec_images.NAUTILUS_IMAGE == e2e["Nautilus"]
    assert spec_images.NONROOT_IMAGE == e2e["NonRoot"]
    assert spec_images.NONEWPRIVS_IMAGE == e2e["Nonewprivs"]
    assert spec_images.NGINX_IMAGES == (e2e["Nginx"], e2e["NginxNew"])


def test_manifest_parser_reads_the_go_syntax():
    text = """
    initRegistry = RegistryList{
        PromoterE2eRegistry:      "registry.k8s.io/e2e-test-images",
        GcRegistry:               "registry.k8s.io",
    }
    configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "2.66.1"}
    configs[Pause] = Config{list.GcRegistry, "pause", "3.10.2"}
    """
    assert e2e_images(text) == {
        "Agnhost": "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
        "Pause": "registry.k8s.io/pause:3.10.2",
    }


def test_coredns_tag_is_the_version_the_lab_builds():
    assert COREDNS_IMAGE.endswith(f":{CURRENT.coredns}")


def test_agnhost_version_is_its_tag():
    assert AGNHOST_IMAGE.endswith(f":{images.AGNHOST_VERSION}")


def test_config_documents_the_pinned_defaults():
    defaults = {s.env: s.default for s in SETTINGS}
    assert defaults[WORKLOAD_IMAGE_ENV] == AGNHOST_IMAGE
    assert defaults[NODE_IMAGE_ENV] == BUSYBOX_IMAGE
    assert defaults[IMAGE_REPO_ENV] == images.UPSTREAM_REGISTRY


@pytest.mark.parametrize(
    ("image", "repo", "expected"),
    [
        (AGNHOST_IMAGE, "mirror.example.com:5000/k8s",
         "mirror.example.com:5000/k8s/e2e-test-images/agnhost:2.66.1"),
        (PAUSE_IMAGE, "localhost:5000", "localhost:5000/pause:3.10.2"),
        (COREDNS_IMAGE, "m.local/", "m.local/coredns/coredns:v1.14.6"),
        (BUSYBOX_IMAGE, "registry.k8s.io", BUSYBOX_IMAGE),
        (AGNHOST_IMAGE, None, AGNHOST_IMAGE),
        (AGNHOST_IMAGE, "", AGNHOST_IMAGE),
        ("quay.io/me/agnhost:1", "m.local", "quay.io/me/agnhost:1"),
        ("registry.k8s.io.evil/x:1", "m.local", "registry.k8s.io.evil/x:1"),
    ],
)  # fmt: skip
def test_mirror_rewrites_registry_k8s_io_only(image, repo, expected):
    assert with_repo(image, repo) == expected


@pytest.mark.parametrize(
    ("repo", "why"),
    [
        ("https://mirror.example.com", "without a scheme"),
        ("mirror.example.com/K8s", "expected registry"),
        ("mirror.example.com/k8s:1.0", "expected registry"),
        ("mirror example.com", "expected registry"),
        ("mirror.example.com/k8s@sha256:abc", "expected registry"),
        ("", "expected registry"),
        ("/k8s", "expected registry"),
    ],
)
def test_bad_mirror_is_one_clear_line(repo, why):
    with pytest.raises(UsageError, match=why) as caught:
        with_repo(AGNHOST_IMAGE, repo or " ")
    assert "\n" not in str(caught.value)
    named = f"^--image-repo {re.escape(repr(repo))}"
    with pytest.raises(UsageError, match=named):
        check_repo(repo, "--image-repo")


def test_environment_picks_images_and_mirror():
    env = {IMAGE_REPO_ENV: "m.local/k8s"}
    assert workload_image(env) == "m.local/k8s/e2e-test-images/agnhost:2.66.1"
    assert node_helper_image(env) == (
        "m.local/k8s/e2e-test-images/busybox:1.37.0-2"
    )
    env[WORKLOAD_IMAGE_ENV] = "quay.io/me/agnhost:9"
    env[NODE_IMAGE_ENV] = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"
    assert workload_image(env) == "quay.io/me/agnhost:9"
    assert node_helper_image(env) == (
        "m.local/k8s/e2e-test-images/busybox:1.36.1-1"
    )
    assert workload_image({}) == AGNHOST_IMAGE
    assert node_helper_image({}) == BUSYBOX_IMAGE


def test_run_images_name_each_image_and_its_override():
    env = {WORKLOAD_IMAGE_ENV: "quay.io/me/agnhost:9", IMAGE_REPO_ENV: "x.io"}
    workload, helper = run_images("m.local", env)
    assert workload.image == "quay.io/me/agnhost:9" and workload.overridden
    assert workload.default == "m.local/e2e-test-images/agnhost:2.66.1"
    assert workload.upstream == AGNHOST_IMAGE
    assert workload.env == WORKLOAD_IMAGE_ENV
    assert helper.image == "m.local/e2e-test-images/busybox:1.37.0-2"
    assert not helper.overridden and helper.env == NODE_IMAGE_ENV
    assert [u.image for u in run_images(None, env)][1].startswith("x.io/")
