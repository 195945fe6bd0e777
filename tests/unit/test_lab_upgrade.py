"""The lab's in-place upgrade: which binaries a component moves to, and
which upgrades it refuses."""

from pathlib import Path

import pytest

from gauntlet.errors import LabError
from gauntlet.lab.upgrade import _check_step, swap_binary
from gauntlet.lab.versions import CURRENT, PREVIOUS, Release

OLD = Path("/cache/bin/kubernetes-v1.36.3")
NEW = Path("/cache/bin/kubernetes-v1.37.2")


def test_a_component_keeps_its_flags_and_runs_the_new_release():
    argv = [f"{OLD}/kubelet", "--config=/var/lib/kubelet/config.yaml", "-v=2"]
    assert swap_binary(argv, OLD, NEW) == [
        f"{NEW}/kubelet",
        "--config=/var/lib/kubelet/config.yaml",
        "-v=2",
    ]


def test_a_component_running_something_else_is_not_touched():
    with pytest.raises(LabError, match="/usr/bin/kubelet is not a binary of"):
        swap_binary(["/usr/bin/kubelet"], OLD, NEW)


def test_one_minor_up_is_an_upgrade():
    _check_step(PREVIOUS, CURRENT)


def test_a_downgrade_or_a_skipped_minor_is_refused():
    with pytest.raises(LabError, match="one minor at a time"):
        _check_step(CURRENT, PREVIOUS)
    skipping = Release("v1.39.0", "v3.7.3", "v2.4.2", "v1.14.6")
    with pytest.raises(LabError, match="one minor at a time"):
        _check_step(PREVIOUS, skipping)


def test_the_release_the_lab_runs_is_no_upgrade():
    with pytest.raises(LabError, match="already runs v1.37.2"):
        _check_step(CURRENT, CURRENT)
