"""The images test workloads and node helpers run, named in one place.

They are the Kubernetes e2e suite's own images under their upstream names
(pinned to the tags of test/utils/image/manifest.go of the pinned
release), so a real cluster pulls them from where every conformance run
pulls them. The lab builds identical-named images and imports them, so
its nodes never pull; its pause and CoreDNS images carry kubeadm's names
for the same reason. ``--image-repo`` (``KUBE_GAUNTLET_IMAGE_REPO``)
rewrites every test image to a mirror, like the e2e suite's repo list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gauntlet import __version__
from gauntlet.errors import UsageError

__all__ = [
    "AGNHOST_IMAGE",
    "AGNHOST_VERSION",
    "BUSYBOX_IMAGE",
    "COREDNS_IMAGE",
    "E2E_REGISTRY",
    "GLIBC_DNS_IMAGE",
    "IMAGE_REPO_ENV",
    "NODE_IMAGE_ENV",
    "PAUSE_IMAGE",
    "RUNNER_IMAGE",
    "RUNNER_IMAGE_ENV",
    "RUNNER_PROJECT",
    "UPSTREAM_REGISTRY",
    "WORKLOAD_IMAGE",
    "WORKLOAD_IMAGE_ENV",
    "ImageUse",
    "check_repo",
    "node_helper_image",
    "runner_image",
    "runner_use",
    "run_images",
    "with_repo",
    "workload_image",
]

UPSTREAM_REGISTRY = "registry.k8s.io"
E2E_REGISTRY = f"{UPSTREAM_REGISTRY}/e2e-test-images"
AGNHOST_VERSION = "2.66.1"
BUSYBOX_VERSION = "1.37.0-2"

AGNHOST_IMAGE = f"{E2E_REGISTRY}/agnhost:{AGNHOST_VERSION}"
"""Entrypoint ``/agnhost``; servers are its subcommands (``netexec``), and
it has sh, nc and nslookup for clients (the lab's: busybox applets)."""
BUSYBOX_IMAGE = f"{E2E_REGISTRY}/busybox:{BUSYBOX_VERSION}"
"""Busybox applets: sh, sleep and nsenter are what node helpers need."""
GLIBC_DNS_IMAGE = f"{E2E_REGISTRY}/glibc-dns-testing:2.1.1"
"""The DNS conformance specs' glibc resolver client (``dig``, ``getent``);
the lab builds it so that they run there."""
PAUSE_IMAGE = f"{UPSTREAM_REGISTRY}/pause:3.10.2"
"""kubeadm's sandbox image; the lab's containerd is pinned to it."""
COREDNS_IMAGE = f"{UPSTREAM_REGISTRY}/coredns/coredns:v1.14.6"
"""kubeadm's cluster DNS image; the lab runs it as its DNS add-on."""

RUNNER_REPOSITORY = "kube-gauntlet/runner"
RUNNER_IMAGE = f"localhost/{RUNNER_REPOSITORY}:{__version__}"
"""In-cluster Locust workers and scheduled runs: this host's Python,
gauntlet with its dependencies and its suites
(``gauntlet.lab.runner_image``). No registry serves it: ``localhost/``
names a locally built image; nodes import its archive (``images
export``), or a mirror holds it as ``<repo>/kube-gauntlet/runner``."""

RUNNER_PROJECT = "/opt/kube-gauntlet"
"""Where the runner image keeps the suites, ``pytest.ini`` and the root
conftest (``KUBE_GAUNTLET_PROJECT``), so that ``gauntlet run`` works in
it; a scheduled run mounts its reports volume at ``reports/`` there."""

WORKLOAD_IMAGE = AGNHOST_IMAGE
"""What test pods run unless ``KUBE_GAUNTLET_IMAGE_WORKLOAD`` says."""
WORKLOAD_IMAGE_ENV = "KUBE_GAUNTLET_IMAGE_WORKLOAD"
NODE_IMAGE_ENV = "KUBE_GAUNTLET_NODE_IMAGE"
IMAGE_REPO_ENV = "KUBE_GAUNTLET_IMAGE_REPO"
RUNNER_IMAGE_ENV = "KUBE_GAUNTLET_RUNNER_IMAGE"

# A registry host (with an optional port) and optional path components
# as the distribution reference grammar has them; no tag, no digest.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"{_HOST}(?:/{_COMPONENT})*")


@dataclass(frozen=True)
class ImageUse:
    """One image a run needs, and why."""

    image: str
    """The name pods use: the override, or the default after the mirror."""
    default: str
    """kube-gauntlet's own image (``upstream``, after the mirror)."""
    upstream: str
    """Its name on registry.k8s.io, which the lab builds."""
    used_by: str
    env: str
    """The variable that overrides it."""

    @property
    def overridden(self) -> bool:
        """Named by ``env`` (not an image kube-gauntlet builds)."""
        return self.image != self.default


def check_repo(repo: str, what: str = "image repo") -> str:
    """``repo`` without a trailing slash, if it can prefix an image name.

    Raises:
        UsageError: ``what``: not a registry host with an optional path
            (a scheme, a tag, upper case in the path, spaces).
    """
    cleaned = repo.strip().rstrip("/")
    if "://" in cleaned:
        raise UsageError(
            f"{what} {repo!r}: give the registry and path without a "
            "scheme, e.g. mirror.example.com:5000/k8s"
        )
    if not _REPO.fullmatch(cleaned):
        raise UsageError(
            f"{what} {repo!r}: expected registry[:port][/path] (path in "
            "lower case, no tag or digest), e.g. mirror.example.com:5000/k8s"
        )
    return cleaned


def with_repo(image: str, repo: str | None) -> str:
    """``registry.k8s.io/<path>:<tag>`` as ``<repo>/<path>:<tag>``.

    Other images, and any image when ``repo`` is empty, come back as
    they are, so a user's own image is never rewritten by accident.

    Raises:
        UsageError: ``repo`` is not a valid registry and path.
    """
    if not repo:
        return image
    prefix = f"{UPSTREAM_REGISTRY}/"
    if not image.startswith(prefix):
        return image
    return f"{check_repo(repo)}/{image.removeprefix(prefix)}"


def _repo(environ: Mapping[str, str]) -> str | None:
    return environ.get(IMAGE_REPO_ENV) or None


def workload_image(environ: Mapping[str, str] | None = None) -> str:
    """``$KUBE_GAUNTLET_IMAGE_WORKLOAD`` or agnhost, under the mirror.

    Raises:
        UsageError: ``$KUBE_GAUNTLET_IMAGE_REPO`` is not a valid repo.
    """
    return _chosen(WORKLOAD_IMAGE_ENV, WORKLOAD_IMAGE, environ)


def node_helper_image(environ: Mapping[str, str] | None = None) -> str:
    """``$KUBE_GAUNTLET_NODE_IMAGE`` or the e2e busybox, under the mirror.

    Raises:
        UsageError: ``$KUBE_GAUNTLET_IMAGE_REPO`` is not a valid repo.
    """
    return _chosen(NODE_IMAGE_ENV, BUSYBOX_IMAGE, environ)


def runner_image(
    repo: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """``$KUBE_GAUNTLET_RUNNER_IMAGE``, else the runner image: under the
    mirror (``repo``, else ``$KUBE_GAUNTLET_IMAGE_REPO``) as
    ``<mirror>/kube-gauntlet/runner:<version>``, else ``RUNNER_IMAGE``.

    Raises:
        UsageError: the mirror is not a valid repo.
    """
    env = os.environ if environ is None else environ
    chosen = env.get(RUNNER_IMAGE_ENV)
    if chosen:
        return chosen
    mirror = repo if repo is not None else _repo(env)
    if not mirror:
        return RUNNER_IMAGE
    return f"{check_repo(mirror)}/{RUNNER_REPOSITORY}:{__version__}"


def runner_use(
    repo: str | None = None, environ: Mapping[str, str] | None = None
) -> ImageUse:
    """The runner image as ``run_images`` lists images.

    Raises:
        UsageError: the mirror is not a valid repo.
    """
    env = dict(os.environ if environ is None else environ)
    env.pop(RUNNER_IMAGE_ENV, None)
    return ImageUse(
        runner_image(repo, environ),
        runner_image(repo, env),
        RUNNER_IMAGE,
        "in-cluster Locust workers and scheduled runs (examples/in-cluster)",
        RUNNER_IMAGE_ENV,
    )


def _chosen(
    variable: str, default: str, environ: Mapping[str, str] | None
) -> str:
    """The image a variable names, else the default; under the mirror."""
    env = os.environ if environ is None else environ
    return with_repo(env.get(variable) or default, _repo(env))


def run_images(
    repo: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[ImageUse, ...]:
    """Every image a run starts pods from, as the run would name it.

    ``repo`` wins over ``$KUBE_GAUNTLET_IMAGE_REPO``.

    Raises:
        UsageError: the mirror is not a valid repo.
    """
    env = dict(os.environ if environ is None else environ)
    if repo is not None:
        env[IMAGE_REPO_ENV] = repo
    mirror = _repo(env)
    return (
        ImageUse(
            workload_image(env),
            with_repo(WORKLOAD_IMAGE, mirror),
            WORKLOAD_IMAGE,
            "test workloads: web servers (agnhost netexec) and client pods",
            WORKLOAD_IMAGE_ENV,
        ),
        ImageUse(
            node_helper_image(env),
            with_repo(BUSYBOX_IMAGE, mirror),
            BUSYBOX_IMAGE,
            "node helper pods of --node-access pod (nsenter)",
            NODE_IMAGE_ENV,
        ),
    )
