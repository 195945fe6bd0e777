"""Read an OCI image-layout tar back, checking every descriptor on the way."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_layout(tar_path: Path) -> dict[str, Any]:
    """Walk index → manifest → config/layer, checking every descriptor."""
    with tarfile.open(tar_path) as tf:
        blobs = {
            m.name: tf.extractfile(m).read()  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile()
        }
    assert json.loads(blobs["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(blobs["index.json"])
    assert index["schemaVersion"] == 2
    (desc,) = index["manifests"]

    def blob(d: dict[str, Any]) -> bytes:
        data = blobs["blobs/sha256/" + d["digest"].removeprefix("sha256:")]
        assert sha(data) == d["digest"]
        assert len(data) == d["size"]
        return data

    manifest = json.loads(blob(desc))
    assert manifest["mediaType"] == desc["mediaType"]
    assert desc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    config_raw = blob(manifest["config"])
    config = json.loads(config_raw)
    (layer_desc,) = manifest["layers"]
    assert layer_desc["mediaType"].endswith("tar+gzip")
    layer = gzip.decompress(blob(layer_desc))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha(layer)]}
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    with tarfile.open(fileobj=io.BytesIO(layer)) as lt:
        members = {m.name.rstrip("/"): m for m in lt.getmembers()}
        contents = {
            n: lt.extractfile(m).read()  # type: ignore[union-attr]
            for n, m in members.items()
            if m.isfile()
        }
    return {
        "annotations": desc["annotations"],
        "config": config["config"],
        "members": members,
        "contents": contents,
        "names": list(members),
    }
