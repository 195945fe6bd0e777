"""``gauntlet images list|export`` and ``gauntlet run --image-repo``:
what a run pulls, archives of it, and one-line errors for a bad mirror."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from oci_layout import read_layout

from gauntlet import __version__
from gauntlet.cli.main import main
from gauntlet.cli.run_cmd import requested_image_repo
from gauntlet.errors import UsageError
from gauntlet.exit_codes import EXIT_OK, EXIT_USAGE
from gauntlet.gobuild import build
from gauntlet.images import (
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    IMAGE_REPO_ENV,
    NODE_IMAGE_ENV,
    RUNNER_IMAGE_ENV,
    WORKLOAD_IMAGE_ENV,
)

BUSYBOX = Path("/bin/busybox")
MIRROR = "mirror.example.com:5000/k8s"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (IMAGE_REPO_ENV, WORKLOAD_IMAGE_ENV, NODE_IMAGE_ENV):
        monkeypatch.delenv(name, raising=False)


def one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith("gauntlet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_list_prints_each_image_and_its_use(capsys) -> None:
    assert main(["images", "list"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == AGNHOST_IMAGE and "workloads" in lines[0]
    assert lines[1].split()[0] == BUSYBOX_IMAGE and "node helper" in lines[1]


def test_list_json_under_a_mirror(capsys, monkeypatch) -> None:
    monkeypatch.setenv(WORKLOAD_IMAGE_ENV, "quay.io/me/agnhost:9")
    assert main(["images", "list", "--image-repo", MIRROR, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in rows] == [
        "quay.io/me/agnhost:9",
        f"{MIRROR}/e2e-test-images/busybox:1.37.0-2",
        f"{MIRROR}/kube-gauntlet/runner:{__version__}",
    ]
    assert [r["overridden"] for r in rows] == [True, False, False]
    assert rows[0]["env"] == WORKLOAD_IMAGE_ENV
    assert rows[1]["upstream"] == BUSYBOX_IMAGE


def test_list_takes_the_mirror_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv(IMAGE_REPO_ENV, "m.local")
    assert main(["images", "list"]) == EXIT_OK
    assert "m.local/e2e-test-images/agnhost:2.66.1" in capsys.readouterr().out


@pytest.mark.parametrize("repo", ["https://m.local", "m.local/A", "a b"])
def test_bad_mirror_is_one_line(capsys, repo: str) -> None:
    err = one_line_error(capsys, main(["images", "list", "--image-repo", repo]))
    assert f"--image-repo {repo!r}" in err


def test_bad_mirror_in_the_environment_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv(IMAGE_REPO_ENV, "http://m.local")
    err = one_line_error(capsys, main(["images", "list"]))
    assert "without a scheme" in err


def test_run_takes_the_mirror_flag_then_env_then_file() -> None:
    file = {IMAGE_REPO_ENV: "file.local"}
    env = {IMAGE_REPO_ENV: "env.local/"}
    assert requested_image_repo("flag.local", file, env) == "flag.local"
    assert requested_image_repo(None, file, env) == "env.local"
    assert requested_image_repo(None, file, {}) == "file.local"
    assert requested_image_repo(None, {}, {}) is None
    with pytest.raises(UsageError, match=f"^{IMAGE_REPO_ENV} 'x y'"):
        requested_image_repo(None, file, {IMAGE_REPO_ENV: "x y"})
    with pytest.raises(UsageError, match="^images.repo 'A/B'"):
        requested_image_repo(None, {IMAGE_REPO_ENV: "A/B"}, {})


def test_run_refuses_a_bad_mirror_before_the_cluster(capsys, tmp_path):
    code = main(
        [
            "run",
            "--profile",
            "gate",
            "--kubeconfig",
            str(tmp_path / "absent"),
            "--image-repo",
            "ftp://m.local",
        ]
    )
    assert "--image-repo 'ftp://m.local'" in one_line_error(capsys, code)


@pytest.fixture
def fake_agnhost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cached 'kubernetes build' whose agnhost is a static stand-in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(BUSYBOX, bin_dir / "agnhost")
    monkeypatch.setattr(build, "ensure_built", lambda _build: bin_dir)
    return bin_dir


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static missing")
def test_export_writes_archives_named_as_the_run_pulls(
    capsys, tmp_path: Path, fake_agnhost: Path
) -> None:
    out = tmp_path / "out"
    assert main(["images", "export", str(out), "--image-repo", MIRROR]) == 0
    printed = capsys.readouterr().out
    agnhost, busybox = out / "agnhost-2.66.1.tar", out / "busybox-1.37.0-2.tar"
    assert sorted(p.name for p in out.iterdir()) == [
        agnhost.name,
        busybox.name,
        f"runner-{__version__}.tar",
    ]
    names = {
        p: read_layout(p)["annotations"]["io.containerd.image.name"]
        for p in (agnhost, busybox)
    }
    assert names == {
        agnhost: f"{MIRROR}/e2e-test-images/agnhost:2.66.1",
        busybox: f"{MIRROR}/e2e-test-images/busybox:1.37.0-2",
    }
    assert read_layout(agnhost)["config"]["Entrypoint"] == ["/agnhost"]
    assert f"ctr -n k8s.io images import {agnhost}" in printed
    assert f"kind load image-archive {busybox}" in printed


@pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox-static missing")
def test_export_skips_an_image_the_user_named(
    capsys, tmp_path: Path, fake_agnhost: Path, monkeypatch
) -> None:
    monkeypatch.setenv(NODE_IMAGE_ENV, "quay.io/me/tools:1")
    monkeypatch.setenv(RUNNER_IMAGE_ENV, "quay.io/me/runner:1")
    assert main(["images", "export", str(tmp_path / "out")]) == EXIT_OK
    captured = capsys.readouterr()
    assert [p.name for p in (tmp_path / "out").iterdir()] == [
        "agnhost-2.66.1.tar"
    ]
    assert "skipped quay.io/me/tools:1: set by" in captured.err + captured.out


def test_export_into_a_file_is_one_line(capsys, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    err = one_line_error(capsys, main(["images", "export", str(target)]))
    assert "is not a directory" in err
