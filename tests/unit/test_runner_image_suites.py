"""The runner image runs ``gauntlet run``, not only Locust workers.

A scheduled run starts ``gauntlet run --profile gate`` in the image, so
the image carries the suites, the root conftest and pytest.ini where
``KUBE_GAUNTLET_PROJECT`` points, pytest with the plugins the run loads
(the gauntlet plugin by its pytest11 entry point, allure, timeout), the
package's data files and a ``gauntlet`` script the kernel can start.
"""

import sys

import pytest

from gauntlet.images import RUNNER_PROJECT
from gauntlet.lab.runner_image import runner_files
from gauntlet.load.in_cluster import IMAGE_PREFIX
from gauntlet.project import project_root

VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
SITE = f"{IMAGE_PREFIX.lstrip('/')}/lib/{VERSION}/site-packages"
PROJECT = RUNNER_PROJECT.lstrip("/")


@pytest.fixture(scope="module")
def files():
    return {f.path: f for f in runner_files()}


def test_the_suites_conftest_and_pytest_ini_sit_at_the_project(files):
    root = project_root()
    for name in ("conftest.py", "pytest.ini"):
        assert files[f"{PROJECT}/{name}"].source == root / name
    suites = sorted(
        str(p.relative_to(root)) for p in (root / "suites").rglob("*.py")
    )
    assert suites and all(f"{PROJECT}/{s}" in files for s in suites)
    assert f"{PROJECT}/reports" in files  # the volume's mount point
    assert not [p for p in files if p.startswith(PROJECT) and ".pyc" in p]


def test_pytest_and_the_plugins_a_run_loads_are_inside(files):
    for module in (
        "pytest/__init__.py",
        "_pytest/main.py",
        "allure_pytest/plugin.py",
        "pytest_timeout.py",
        "yaml/__init__.py",
        "matplotlib/__init__.py",
        "chaoslib/__init__.py",
        "locust/main.py",
        "kubernetes/config/incluster_config.py",
    ):
        assert f"{SITE}/{module}" in files, module


def test_gauntlet_has_its_data_and_entry_points(files):
    assert f"{SITE}/gauntlet/data/guarantees.md" in files
    assert f"{SITE}/gauntlet/pytest_plugin.py" in files
    info = [p for p in files if p.startswith(f"{SITE}/kube_gauntlet-")]
    points = next(p for p in info if p.endswith("/entry_points.txt"))
    text = files[points].content.decode()
    assert "[pytest11]\ngauntlet = gauntlet.pytest_plugin" in text
    assert not [p for p in files if "__editable__" in p]


def test_the_gauntlet_script_starts_the_cli_with_the_images_python(files):
    script = files[f"{IMAGE_PREFIX.lstrip('/')}/bin/gauntlet"]
    text = script.content.decode()
    assert text.startswith(f"#!{IMAGE_PREFIX}/bin/python3\n")
    assert "from gauntlet.cli.main import main" in text
    assert script.mode == 0o755
