"""Put the runner image on the lab's nodes when something needs it.

The boot imports the images every test needs; the runner image is big
(~300 MB) and only in-cluster load workers and scheduled runs run it, so
it is imported on demand: built (or taken from the cache), then imported
into each node that runs pods whose containerd does not already hold the
same digest.
"""

from __future__ import annotations

import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from gauntlet import progress
from gauntlet.errors import LabError
from gauntlet.images import RUNNER_IMAGE
from gauntlet.lab import node
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.runner_image import build_runner_image
from gauntlet.project import cache_root

__all__ = ["RunnerImport", "archive_digest", "ensure_runner_image"]

IMPORT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class RunnerImport:
    """What ``ensure_runner_image`` did, and what it cost."""

    image: str
    archive: Path
    digest: str
    size_bytes: int
    build_s: float
    """Building (or finding the cached archive)."""
    import_s: float
    imported_into: tuple[str, ...]
    """Nodes that lacked this digest; the others already held it."""


def ensure_runner_image(
    lab: LabCluster, name: str = RUNNER_IMAGE
) -> RunnerImport:
    """Build the runner image if its inputs changed and import it into
    every lab node that runs pods and lacks it.

    Raises:
        LabError: no lab is up, a node is down, or the build or an import
            failed.
    """
    topology = lab.topology()
    if topology is None:
        raise LabError("no lab is up: run `gauntlet lab up`")
    started = time.monotonic()
    with progress.step(f"Building {name}"):
        archive = build_runner_image(cache_root() / "images" / "runner", name)
    built = time.monotonic()
    digest = archive_digest(archive)
    ctr = str(lab.binaries().containerd / "ctr")
    imported = []
    for n in topology.kubelet_nodes:
        pid = lab.node_pid(n.name)
        held = node.node_exec(
            pid,
            [ctr, "-n", "k8s.io", "images", "ls", f"name=={name}"],
            timeout_s=30,
        ).stdout
        if digest in held:
            continue
        with progress.step(f"Importing {name} on {n.name}"):
            node.node_exec(
                pid,
                [ctr, "-n", "k8s.io", "images", "import", "--local"]
                + [str(archive)],
                timeout_s=IMPORT_TIMEOUT_S,
            )
        imported.append(n.name)
    return RunnerImport(
        name,
        archive,
        digest,
        archive.stat().st_size,
        built - started,
        time.monotonic() - built,
        tuple(imported),
    )


def archive_digest(archive: Path) -> str:
    """The manifest digest (``sha256:...``) an OCI archive's index names.

    Raises:
        LabError: the archive cannot be read or has no manifest.
    """
    try:
        with tarfile.open(archive) as tf:
            member = tf.extractfile("index.json")
            if member is None:
                raise LabError(f"{archive}: index.json is not a file")
            index = json.loads(member.read())
        return str(index["manifests"][0]["digest"])
    except (OSError, KeyError, IndexError, ValueError, tarfile.TarError) as exc:
        raise LabError(f"{archive}: not an OCI image archive: {exc}") from exc
