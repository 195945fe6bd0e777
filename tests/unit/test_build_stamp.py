"""The build cache's stamp records what was built, so a cached build that
lacks a newly added package is rebuilt, and a rebuild swaps binaries in
under a running lab without a moment where one is missing."""

import json
from pathlib import Path

import pytest

from gauntlet.gobuild import build
from gauntlet.gobuild.build import STAMP, GoBuild, install, is_built
from gauntlet.lab.build import kubernetes_build


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBE_GAUNTLET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def small(packages=("example.com/a/cmd/one",), ldflags="-s -w") -> GoBuild:
    return GoBuild(
        name="small",
        version="v1.0.0",
        requires=(("example.com/a", "v1.0.0"),),
        packages=packages,
        ldflags=ldflags,
    )


def test_kubernetes_build_has_agnhost_and_kubeadm():
    packages = kubernetes_build().packages
    assert "k8s.io/kubernetes/test/images/agnhost" in packages
    assert "k8s.io/kubernetes/cmd/kubeadm" in packages
    for cmd in ("kube-apiserver", "kubelet", "kubectl", "kube-proxy"):
        assert f"k8s.io/kubernetes/cmd/{cmd}" in packages
    assert "-X main.Version=2.66.1" in kubernetes_build().ldflags


def test_stamp_names_version_packages_and_flags():
    record = json.loads(small().stamp)
    assert record["version"] == "v1.0.0"
    assert record["packages"] == ["example.com/a/cmd/one"]
    assert record["ldflags"] == "-s -w"
    assert small().stamp == small().stamp
    assert small().stamp != small(("example.com/a/cmd/one", "x/two")).stamp
    assert small().stamp != small(ldflags="-s").stamp


def test_a_build_is_cached_only_with_its_own_stamp(cache):
    b = small()
    assert not is_built(b)  # nothing there
    b.out_dir.mkdir(parents=True)
    (b.out_dir / STAMP).write_text("v1.0.0\n")  # the old format
    assert not is_built(b)
    (b.out_dir / STAMP).write_text(b.stamp)
    assert is_built(b)
    grown = small(("example.com/a/cmd/one", "example.com/a/cmd/two"))
    assert grown.out_dir == b.out_dir and not is_built(grown)


def test_install_into_a_fresh_directory(tmp_path):
    built, out = tmp_path / ".x.tmp", tmp_path / "x"
    built.mkdir()
    (built / "one").write_text("new one")
    install(built, out, "stamp\n")
    assert (out / "one").read_text() == "new one"
    assert (out / STAMP).read_text() == "stamp\n"
    assert not built.exists()


def test_install_over_a_directory_in_use_swaps_each_file(tmp_path):
    built, out = tmp_path / ".x.tmp", tmp_path / "x"
    out.mkdir()
    (out / "one").write_text("old one")
    (out / "gone").write_text("left alone")
    (out / STAMP).write_text("old stamp\n")
    held = (out / "one").open()  # a running binary keeps its old inode
    built.mkdir()
    (built / "one").write_text("new one")
    (built / "two").write_text("new two")
    install(built, out, "new stamp\n")
    assert (out / "one").read_text() == "new one"
    assert (out / "two").read_text() == "new two"
    assert (out / "gone").read_text() == "left alone"
    assert (out / STAMP).read_text() == "new stamp\n"
    assert held.read() == "old one"
    held.close()
    assert not built.exists()
    assert sorted(p.name for p in out.iterdir()) == [
        STAMP,
        "gone",
        "one",
        "two",
    ]


def test_ensure_built_rebuilds_a_build_missing_a_package(cache, monkeypatch):
    calls: list[list[str]] = []

    def fake_go(args, cwd, env, log):
        calls.append(args)
        if args[0] == "build":
            out = Path(args[args.index("-o") + 1])
            for pkg in args[args.index("-o") + 2 :]:
                (out / pkg.rsplit("/", 1)[-1]).write_text(pkg)

    monkeypatch.setattr(build, "_go", fake_go)
    monkeypatch.setattr(build.shutil, "which", lambda _name: "/usr/bin/go")
    old = small()
    old.out_dir.mkdir(parents=True)
    (old.out_dir / "one").write_text("old")
    (old.out_dir / STAMP).write_text(old.stamp)
    assert build.ensure_built(old) == old.out_dir
    assert calls == []  # cached: go never ran

    grown = small(("example.com/a/cmd/one", "example.com/a/cmd/two"))
    assert build.ensure_built(grown) == grown.out_dir
    assert [c[0] for c in calls] == ["mod", "build"]
    assert (grown.out_dir / "two").read_text() == "example.com/a/cmd/two"
    assert (grown.out_dir / "one").read_text() == "example.com/a/cmd/one"
    assert is_built(grown)
    assert not list(grown.out_dir.parent.glob(".*.tmp"))
