"""The runner image carries what a Locust worker and a scheduled run
import (gauntlet with its dependencies), without tests, bytecode or GUIs.

Built from this host's interpreter and .venv, so no cluster is needed;
``ldd`` runs on the extension modules (a few seconds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gauntlet.lab.oci import ImageFile
from gauntlet.lab.runner_image import runner_files, runner_inputs_digest
from gauntlet.load.in_cluster import IMAGE_PREFIX, LOCUSTFILE

VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
SITE = f"{IMAGE_PREFIX.lstrip('/')}/lib/{VERSION}/site-packages"


@pytest.fixture(scope="module")
def files() -> dict[str, ImageFile]:
    return {f.path: f for f in runner_files()}


def test_the_interpreter_runs_from_usr_local(files):
    assert files[f"usr/local/bin/{VERSION}"].source is not None
    assert files["usr/local/bin/python3"].symlink == VERSION
    assert any(p.startswith("usr/local/lib/libpython3") for p in files)
    assert f"usr/local/lib/{VERSION}/os.py" in files
    assert any("lib-dynload/_ssl." in p for p in files)


def test_it_carries_locust_its_http_client_kubernetes_and_gauntlet(files):
    for module in (
        "locust/main.py",
        "geventhttpclient/__init__.py",
        "gevent/__init__.py",
        "zmq/__init__.py",
        "kubernetes/config/incluster_config.py",
        "gauntlet/load/credentials.py",
    ):
        assert f"{SITE}/{module}" in files, module
    assert LOCUSTFILE.lstrip("/") in files
    assert any(p.startswith(f"{SITE}/locust-") for p in files), "metadata"


def test_it_leaves_out_tests_bytecode_guis_and_the_async_client(files):
    assert not [p for p in files if p.endswith(".pyc")]
    assert not [p for p in files if "/test/" in p or "/tests/" in p]
    assert not [p for p in files if "tkinter" in p or "idlelib" in p]
    assert not [p for p in files if p.startswith(f"{SITE}/kubernetes/aio/")]
    assert not [p for p in files if p.startswith(f"{SITE}/pip/")]


def test_libraries_of_extension_modules_come_from_the_host(files):
    libc = [p for p in files if Path(p).name.startswith("libc.so")]
    assert libc and all(files[p].source is not None for p in libc)


def test_the_cache_key_changes_with_any_file(files, tmp_path):
    extra = tmp_path / "x.py"
    extra.write_text("a = 1\n")
    listed = [*files.values(), ImageFile(f"{SITE}/x.py", source=extra)]
    before = runner_inputs_digest(listed)
    extra.write_text("a = 2\n")

    assert runner_inputs_digest(listed) != before
