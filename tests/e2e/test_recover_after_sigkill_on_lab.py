"""A gameday run killed with SIGKILL mid-fault, then `gauntlet recover`:
every fault is undone and nothing the run made is left on the cluster.

Each case runs one guarantee (``-k``) through the CLI, kills the whole
run (CLI and pytest: one process group) once the run's ledger says the
fault is in, runs ``gauntlet recover`` and counts what is left: open
ledger entries, namespaces of runs (labelled ``kube-gauntlet.io/run``,
managed by kube-gauntlet, or named ``kg-*``), ConfigMaps named
``kube-gauntlet-*`` in any namespace (write probes, ledger mirrors in
kube-system) and helper pods. About 1.5 minutes per case.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from e2e_cli import GAUNTLET, PROJECT, gauntlet

from gauntlet import progress
from gauntlet.checks.chaos.writes import run_probe_namespace
from gauntlet.faults.ledger import ledger_dir, read_ledger
from gauntlet.lab import network
from gauntlet.wellknown import MANAGED_BY as WELL_MANAGED_BY
from gauntlet.wellknown import RUN_LABEL, label_value

MANAGED_BY = tuple(WELL_MANAGED_BY.items())[0]
FAULT_TIMEOUT_S = 300.0
"""From `gauntlet run` to the fault being in (settling, workloads)."""
DRAIN_TIMEOUT_S = 180.0
"""Until deleted namespaces are gone (their pods terminate first)."""
RECOVER_TIMEOUT_S = 300.0


def _gameday(tmp_path: Path, keyword: str, *extra: str) -> subprocess.Popen:
    argv = [GAUNTLET, "run", "--profile", "gameday"]
    argv += ["--allow-destructive", "kube-gauntlet-lab", "-k", keyword, *extra]
    with (tmp_path / "run.log").open("w") as log:
        return subprocess.Popen(
            argv,
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )


def _run_id(tmp_path: Path) -> str | None:
    found = re.search(
        r"run (\S+): profile gameday", (tmp_path / "run.log").read_text()
    )
    return found.group(1) if found else None


def _injected(ledger: Path, fault: str) -> int:
    """How many faults whose description starts with ``fault`` are in."""
    if not ledger.is_file():
        return 0
    opened: dict[int, str] = {}
    count = 0
    for line in ledger.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line still being written
        if event["event"] == "open":
            opened[event["seq"]] = event["description"]
        elif event["event"] == "injected":
            count += opened.get(event["seq"], "").startswith(fault)
    return count


def _kill_when_in(
    run: subprocess.Popen, tmp_path: Path, fault: str, count: int
) -> Path:
    """SIGKILL the run once ``count`` faults ``fault...`` are in; return
    its ledger file."""
    try:

        def fault_in() -> Path | None:
            if run.poll() is not None:  # pytest.fail is no Exception: ends
                log = (tmp_path / "run.log").read_text()[-3000:]
                pytest.fail(f"the run ended before the fault was in:\n{log}")
            run_id = _run_id(tmp_path)
            if run_id is None:
                return None
            path = ledger_dir() / f"{run_id}.jsonl"
            return path if _injected(path, fault) >= count else None

        ledger = progress.wait_until(
            f"{count} x '{fault}...' in", fault_in, FAULT_TIMEOUT_S, 0.5
        )
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(30)
    assert run.returncode == -signal.SIGKILL
    return ledger


def _ours(meta, harness: str) -> bool:
    """Made by a run, other than this test session's own (``harness``):
    the session's namespaces live until it ends."""
    labels = meta.labels or {}
    if labels.get(RUN_LABEL) == label_value(harness) or meta.name == (
        run_probe_namespace(harness)
    ):
        return False
    return (
        meta.name.startswith(("kg-", "kube-gauntlet-"))
        or RUN_LABEL in labels
        or labels.get(MANAGED_BY[0]) == MANAGED_BY[1]
    )


def _leftovers(cluster, harness: str) -> dict[str, list[str]]:
    """What runs left on the cluster, by kind (empty: nothing)."""
    cluster.reconnect()
    core = cluster.core()
    namespaces = [
        ns.metadata.name
        for ns in core.list_namespace().items
        if _ours(ns.metadata, harness)
    ]
    configmaps = [
        f"{c.metadata.namespace}/{c.metadata.name}"
        for c in core.list_config_map_for_all_namespaces().items
        if c.metadata.name.startswith("kube-gauntlet-")
    ]
    pods = [
        f"{p.metadata.namespace}/{p.metadata.name}"
        for p in core.list_pod_for_all_namespaces(
            label_selector=f"{RUN_LABEL},{RUN_LABEL}!={label_value(harness)}"
        ).items
    ]
    found = {
        "namespaces": namespaces,
        "ledger mirrors": [
            c for c in configmaps if c.startswith("kube-system/kube-gauntlet-")
        ],
        "configmaps": configmaps,
        "helper pods": pods,
    }
    return {kind: names for kind, names in found.items() if names}


def _clean(cluster, harness: str, what: str) -> None:
    """Wait until nothing of any run is left (a namespace terminates in
    its own time); fail naming the leftovers."""
    last: dict[str, list[str]] = {}

    def nothing_left() -> bool:
        nonlocal last
        last = _leftovers(cluster, harness)
        return not last

    progress.wait_until(
        what, nothing_left, DRAIN_TIMEOUT_S, 3, describe=lambda: str(last)
    )


def _faults_undone(lab) -> None:
    """Every component wanted running and no partition rule anywhere."""
    topology = lab.topology()
    stopped = [
        f"{c['name']} on {n.name}"
        for n in topology.nodes
        for c in lab.components(n.name)
        if c["desired"] != "running"
    ]
    cut = {
        n.name: peers
        for n in topology.nodes
        if (peers := network.partitioned_peers(n))
    }
    assert not stopped and not cut, f"stopped: {stopped}; cut off: {cut}"
    progress.wait_until("the lab healthy again", lab.healthy, 180, 2)


def _crash_and_recover(
    lab,
    cluster,
    harness: str,
    tmp_path: Path,
    keyword: str,
    fault: str,
    count: int,
    *extra,
) -> None:
    # Best effort: a dead run of another cluster (a lab since rebuilt)
    # may fail to recover here; the lab itself must be clean.
    gauntlet("recover", timeout=RECOVER_TIMEOUT_S)
    _clean(cluster, harness, "no leftovers of earlier runs before the test")
    run = _gameday(tmp_path, keyword, *extra)
    ledger = _kill_when_in(run, tmp_path, fault, count)

    state = read_ledger(ledger)
    left = [e.description for e in state.open_entries]
    assert any(e.what == "fault" for e in state.open_entries), left
    assert any(d.startswith("namespace kg-") for d in left), left

    proc = gauntlet("recover", "--run", state.run_id, timeout=RECOVER_TIMEOUT_S)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"run {state.run_id}" in out, out[-3000:]
    still_open = [e.description for e in read_ledger(ledger).open_entries]
    assert still_open == [], f"open after recover: {still_open}\n{out}"
    _faults_undone(lab)
    _clean(
        cluster, harness, f"nothing of run {state.run_id} left after recover"
    )


@pytest.mark.parametrize(
    ("keyword", "fault", "count"),
    [
        pytest.param(
            "res_01",
            "stop kubelet on ",
            1,
            id="res_01",
            marks=pytest.mark.full_matrix(ci="the res_05 kill point"),
        ),
        pytest.param(
            "part_01",
            "partition cp",
            1,
            id="part_01",
            marks=pytest.mark.full_matrix(ci="the res_05 kill point"),
        ),
        pytest.param("res_05", "stop etcd on ", 2, id="res_05"),
    ],
)
def test_recover_after_sigkill_leaves_no_fault_and_nothing_the_run_made(
    lab, cluster, run_id, tmp_path, keyword, fault, count
):
    _crash_and_recover(lab, cluster, run_id, tmp_path, keyword, fault, count)


@pytest.mark.full_matrix(ci="the res_05 kill point")
def test_recover_after_sigkill_removes_the_pod_backends_helper_pods(
    lab, cluster, run_id, tmp_path
):
    """RES-03 through helper pods: an etcd member stopped through a pod
    that recover must reuse, then remove with its namespace."""
    _crash_and_recover(
        lab,
        cluster,
        run_id,
        tmp_path,
        "res_03",
        "stop etcd on ",
        1,
        "--node-access",
        "pod",
    )
