"""LOAD-01 catches API servers starved of CPU."""

from pathlib import Path

import pytest
from control_plane_sabotage import wait_settled

from gauntlet.checks.load.slo import check_api_latency_slos
from gauntlet.errors import GuaranteeViolated

CPU = Path("/sys/fs/cgroup/cpu")
STARVED = CPU / "kg-sabotage-starved"


def _apiserver_host_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"/kube-apiserver"):
                pids.append(int(entry.name))
    return pids


def _move(pids: list[int], group: Path) -> None:
    for pid in pids:
        try:
            (group / "cgroup.procs").write_text(str(pid))
        except OSError:
            pass


@pytest.mark.full_matrix(
    ci=(
        "the load family: LOAD-02's sabotage; LOAD-01 passes in the load "
        "profile run"
    )
)
def test_api_servers_starved_of_cpu_break_the_latency_slos(
    cluster, lab_check, restore, monkeypatch
):
    monkeypatch.setenv("KUBE_GAUNTLET_LOAD_SECONDS", "10")
    pids = _apiserver_host_pids()
    assert len(pids) == 3
    STARVED.mkdir(exist_ok=True)
    restore.callback(STARVED.rmdir)
    # 2 % of one CPU in 1 s periods: once the 20 ms are spent, every API
    # server stalls until the period ends. At 5 % in 100 ms periods the
    # p99 hovered at the 1 s bound (0.7 s in one CI run).
    (STARVED / "cpu.cfs_period_us").write_text("1000000")
    (STARVED / "cpu.cfs_quota_us").write_text("20000")
    original = {pid: Path(f"/proc/{pid}/cgroup").read_text() for pid in pids}
    parents = {
        pid: next(
            line.split(":")[2]
            for line in text.splitlines()
            if line.split(":")[1] == "cpu"
        )
        for pid, text in original.items()
    }
    restore.callback(wait_settled, cluster, lab_check)  # runs last
    for pid in pids:
        restore.callback(_move, [pid], CPU / parents[pid].lstrip("/"))
    _move(pids, STARVED)

    try:
        check_api_latency_slos(lab_check)
    except GuaranteeViolated as caught:
        # Starved servers answer slowly (a p99 over its SLO) or, when no
        # answer comes before the end, not at all: requests already over
        # their SLO then count as failed ("no successful request").
        message = str(caught)
        assert (
            "over the single SLO 1s" in message
            or "no successful request" in message
            or "over the 1% budget" in message
        ), message
    else:
        pytest.fail(
            "API servers starved of CPU still met the SLOs: "
            f"{lab_check.measured}"
        )
    restore.close()
