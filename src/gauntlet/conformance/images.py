"""Which images the specs pull, from where, and which specs cannot run.

A real cluster pulls the upstream e2e images; ``--image-repo MIRROR``
becomes the e2e suite's own registry override (``KUBE_TEST_REPO_LIST``),
the same rewrite ``gauntlet.images`` applies to kube-gauntlet's images.
A cluster that pulls nothing (air-gapped, or the lab) can only run specs
whose images its nodes already hold: the others are set aside by name,
with the image that is missing, from a table kept as data
(``data/conformance-images.json``: spec -> the images it needs beyond
those every node has, measured on the lab).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from gauntlet.conformance.specs import Spec
from gauntlet.images import check_repo, with_repo

__all__ = [
    "SetAside",
    "always_pulling",
    "repo_list",
    "set_aside",
    "spec_images",
    "write_repo_list",
]

_REGISTRY_PATHS = {
    "promoterE2eRegistry": "e2e-test-images",
    "buildImageRegistry": "build-image",
    "gcEtcdRegistry": "",
    "gcRegistry": "",
    "sigStorageRegistry": "sig-storage",
    "cloudProviderGcpRegistry": "cloud-provider-gcp",
}
"""The e2e suite's registries that live under registry.k8s.io, by the
key its repo list uses (test/utils/image/manifest.go)."""


@dataclass(frozen=True)
class SetAside:
    """A spec that will not run, and why."""

    spec: Spec
    reason: str


def repo_list(mirror: str) -> dict[str, str]:
    """The e2e suite's registry override for ``mirror``: every upstream
    registry under registry.k8s.io moved under the mirror, path kept.

    Raises:
        UsageError: ``mirror`` is not registry[:port][/path].
    """
    base = check_repo(mirror)
    return {
        key: f"{base}/{path}" if path else base
        for key, path in _REGISTRY_PATHS.items()
    }


def write_repo_list(mirror: str, path: Path) -> Path:
    """Write ``repo_list(mirror)`` as the YAML file the suite reads."""
    path.write_text(yaml.safe_dump(repo_list(mirror), sort_keys=True))
    return path


def spec_images(
    table: Mapping[str, object] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Spec name -> upstream images it needs beyond every node's own
    (agnhost, busybox, pause), from the packaged table."""
    if table is None:
        table = _table()
    specs = table.get("specs", {})
    assert isinstance(specs, dict)
    return {str(name): tuple(images) for name, images in specs.items()}


def always_pulling(table: Mapping[str, object] | None = None) -> set[str]:
    """Specs that pull their image even when a node holds it
    (``imagePullPolicy: Always``), from the packaged table."""
    if table is None:
        table = _table()
    names = table.get("always_pull", [])
    assert isinstance(names, list)
    return {str(n) for n in names}


def set_aside(
    specs: Iterable[Spec],
    node_images: set[str],
    mirror: str | None,
    needs: Mapping[str, tuple[str, ...]],
    pulling: Collection[str] = (),
) -> list[SetAside]:
    """Specs a cluster that pulls nothing cannot run: those needing an
    image that no node holds (named) and those that always pull.

    ``node_images`` are the names nodes report (``status.images``); with
    a mirror the spec's images are looked for under the mirror's names.
    """
    found = []
    for spec in specs:
        if spec.name in pulling:
            found.append(
                SetAside(spec, "pulls its image (imagePullPolicy: Always)")
            )
            continue
        missing = [
            image
            for image in needs.get(spec.name, ())
            if with_repo(image, mirror) not in node_images
        ]
        if missing:
            names = ", ".join(with_repo(i, mirror) for i in missing)
            found.append(SetAside(spec, f"image on no node: {names}"))
    return found


def _table() -> dict[str, object]:
    source = resources.files("gauntlet").joinpath(
        "data/conformance-images.json"
    )
    loaded = json.loads(source.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded
