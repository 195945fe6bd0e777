"""The Chaos Toolkit experiments on the lab: each one holds through
``gauntlet experiment run``, a plain ``chaos run`` works with the
documented environment, and Ctrl-C rolls the injected fault back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_cli import GAUNTLET, PROJECT, gauntlet

from gauntlet import progress
from gauntlet.errors import GauntletError
from gauntlet.faults.ledger import ledger_dir, read_ledger

EXPERIMENTS = sorted((PROJECT / "experiments").glob("*.json"))
IN_CI = {
    "res-02-kubelet-crash",
    "res-04-etcd-leader-loss",
    "part-01-minority-partition",
}
"""One experiment per kind of fault (node, etcd, network) in CI, the
node one the kubelet crash (14 s; the kubelet stop waits out the
node-monitor grace, 90 s); every experiment in ``make test-all``."""


def _experiment(path: Path) -> object:
    further = pytest.mark.full_matrix(ci="one experiment per kind of fault")
    marks = () if path.stem in IN_CI else (further,)
    return pytest.param(path, id=path.stem, marks=marks)


CHAOS = str(Path(sys.executable).with_name("chaos"))
WORKERS = ("w1", "w2")


@pytest.fixture
def settled(lab, etcd):
    """Start each experiment on a healthy lab: its steady-state hypothesis
    rightly refuses a cluster that the previous one left recovering."""

    def healthy() -> bool:
        try:
            members = etcd.statuses()
        except GauntletError:
            return False
        leaders = {m.leader_id for m in members}
        return lab.healthy() and len(members) == 3 and len(leaders) == 1

    progress.wait_until("the lab healthy", healthy, 180, 2)


@pytest.mark.parametrize("path", [_experiment(p) for p in EXPERIMENTS])
def test_experiment_holds_on_the_lab(settled, path: Path):
    proc = gauntlet(
        "experiment",
        "run",
        str(path),
        "--allow-destructive",
        "kube-gauntlet-lab",
    )
    out = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, out
    assert "passed: " in proc.stdout, out


def test_plain_chaos_run_works_with_the_documented_environment(
    lab, settled, tmp_path
):
    journal = tmp_path / "journal.json"
    env = {
        **os.environ,
        "KUBECONFIG": str(lab.paths.kubeconfig),
        "KUBE_GAUNTLET_NODE_ACCESS": "lab",
    }
    proc = subprocess.run(
        [
            CHAOS,
            "run",
            "--journal-path",
            str(journal),
            str(PROJECT / "experiments" / "res-07-apiserver-loss.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    result = json.loads(journal.read_text())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert result["status"] == "completed", proc.stderr[-3000:]
    assert result["steady_states"]["after"]["steady_state_met"] is True


def test_ctrl_c_rolls_back_the_fault_of_a_running_experiment(settled, faults):
    started = time.time()
    proc = subprocess.Popen(
        [
            GAUNTLET,
            "experiment",
            "run",
            str(PROJECT / "experiments" / "res-01-kubelet-stop.json"),
            "--allow-destructive",
            "kube-gauntlet-lab",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    try:
        victim = progress.wait_until(
            "a stopped kubelet (the experiment's fault)",
            lambda: next(
                (w for w in WORKERS if _desired(faults, w) == "stopped"), None
            ),
            180,
            0.5,
        )
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted; faults rolled back" in stderr, stderr[-3000:]
    assert _desired(faults, victim) == "running"
    progress.wait_until(
        f"kubelet on {victim} running again",
        lambda: faults.component(victim, "kubelet")["state"] == "running",
        30,
    )
    leftovers = [
        entry.description
        for path in ledger_dir().glob("*.jsonl")
        if path.stat().st_mtime >= started
        for entry in read_ledger(path).open_entries
    ]
    assert not leftovers, f"open faults after Ctrl-C: {leftovers}"


def _desired(faults, node: str) -> str:
    return str(faults.component(node, "kubelet")["desired"])
