"""Unit tests leave nothing on the machine: state (fault ledgers) goes
to a temporary directory, never to /var/lib/kube-gauntlet where
`gauntlet recover` would find it."""

import pytest
from host_fakes import host  # noqa: F401 - the stand-in node fixture


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBE_GAUNTLET_STATE", str(tmp_path / "state"))
