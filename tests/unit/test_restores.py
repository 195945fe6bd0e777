"""Faults the node undoes itself: the host scripts, their log, the wait.

The live tests run the real scripts with ``sh`` in a PID namespace of
their own (so no systemd-run and no cgroup move on this machine), with
trivial faults and undos that touch files.
"""

import os
import re
import shlex
import subprocess
import time

import pytest
from host_fakes import live

from gauntlet.errors import NodeAccessError, UsageError
from gauntlet.nodes import host_commands as hc
from gauntlet.nodes import restores as rs
from gauntlet.nodes.host_clock import (
    HostClock,
    clock_of,
    process_starts,
    process_starts_script,
)
from gauntlet.nodes.types import PARTITION


def sh_syntax_ok(script):
    return (
        subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0
    )


def plan(for_s=5.0, token="t1", node="w1", what="kubelet"):
    return rs.Plan(node, what, token, for_s, time.monotonic())


# -- scripts ------------------------------------------------------------------


def test_a_planned_fault_arms_the_plan_and_the_dead_man_before_it_runs():
    script = rs.armed_script(plan(30), "UNDO", "FAULT", deadman_s=600)
    assert sh_syntax_ok(script)
    timers = re.findall(r'"\$kg_token" (\w+) (\d+)', script)
    assert timers == [("plan", "30"), ("deadman", "600")]
    assert script.index("armed $kg_token") < script.index("FAULT")
    assert script.index("kg_spawn kube") < script.index("FAULT")
    assert script.rstrip().endswith("exit $kg_rc")
    assert "systemd-run --quiet --collect" in script and "nohup" in script


def test_the_watchers_undo_is_valid_shell_for_components_and_partitions():
    for undo in (
        hc.component_script("start", "kube-apiserver"),
        hc.heal_script(),
    ):
        assert sh_syntax_ok(rs._watcher("w1", "x", undo))


def test_systemd_is_never_handed_a_dollar_sign():
    """systemd expands ``$VAR`` and ``$$`` in the commands it runs: the
    watcher goes to a file, and its command line is file and words."""
    script = rs.arm_script(plan(30, token="0a1b2c"), "UNDO $x", 600)
    assert (
        'systemd-run --quiet --collect --unit="$1" \\\n      sh "$2" "$3"'
        in (script)
    )
    spawns = re.findall(r"^kg_spawn (.*)$", script, re.M)
    assert len(spawns) == 2
    for line in spawns:
        unit, path, token, by, delay = line.split()
        assert "$" not in unit + path + by + delay and token == '"$kg_token"'
        assert path == f"/tmp/kube-gauntlet-undo-w1-kubelet.0a1b2c.{by}.sh"


def test_the_dead_man_never_fires_before_the_plan():
    script = rs.arm_script(plan(900), "UNDO", deadman_s=600)
    assert '"$kg_token" deadman 900' in script


def test_without_a_dead_man_only_the_plan_is_armed():
    script = rs.arm_script(plan(12.2), "UNDO", deadman_s=None)
    assert '"$kg_token" plan 13' in script and "deadman" not in script


def test_switch_and_log_are_per_node_and_fault():
    assert rs.switch_path("ip-10.0.0.1/x", PARTITION) == (
        "/tmp/kube-gauntlet-undo-ip-10.0.0.1_x-partition"
    )
    assert rs.log_path("w1", "etcd") == "/tmp/kube-gauntlet-undo-w1-etcd.log"
    assert sh_syntax_ok(rs.cancel_script("w 1", "etcd"))


def test_a_plan_needs_a_positive_duration_and_is_kept_only_with_one():
    restores = rs.PlannedRestores(deadman_s=None)
    with pytest.raises(UsageError):
        restores.plan("w1", "kubelet", 0)
    first = restores.plan("w1", "kubelet", 5)
    assert restores.plan("w1", "kubelet", 5).token != first.token
    restores.plan("w1", "kubelet", None)
    with pytest.raises(UsageError, match="no fault on kubelet of node w1"):
        restores.wait(lambda s, t: None, "w1", "kubelet", 1)


# -- the log ------------------------------------------------------------------


LOG = """armed t1 100.00 30
applied t1 100.50 0
ending t1 130.00 plan
ended t1 131.25 plan 0
now 140.00
"""


def test_the_log_of_a_fault_the_node_ended_gives_times_on_the_runners_clock():
    log = rs.parse_log(LOG, "t1")
    clock = HostClock(uptime=140.0, at=1000.0, error_s=0.2)
    restore = rs.restore_of(plan(30), log, clock, 600)
    assert restore.by == "plan" and restore.undo_s == pytest.approx(1.25)
    assert restore.applied_at == pytest.approx(960.5)
    assert restore.ended_at == pytest.approx(990.0)
    assert restore.error_s == 0.2 and restore.planned_s == 30


def test_a_fault_not_ended_yet_has_no_restore():
    log = rs.parse_log("armed t1 1 30\napplied t1 2 0\n", "t1")
    assert rs.restore_of(plan(30), log, HostClock(3, 3, 0), 600) is None
    assert log.state() == "applied (exit 0), not undone yet"


def test_an_explicit_start_is_a_cancel_by_the_runner():
    log = rs.parse_log("armed t1 1 30\napplied t1 2 0\ncancelled t1 7\n", "t1")
    restore = rs.restore_of(plan(30), log, HostClock(10, 100, 0), None)
    assert (restore.by, restore.ended_at, restore.undo_s) == ("runner", 97, 0)


def test_a_failed_plan_that_the_dead_man_repaired_is_the_dead_mans():
    text = (
        "armed t1 1 1\napplied t1 1.5 0\nending t1 2 plan\n"
        "ended t1 2.1 plan 1\nending t1 9 deadman\nended t1 9.5 deadman 0\n"
    )
    restore = rs.restore_of(
        plan(1), rs.parse_log(text, "t1"), HostClock(10, 10, 0), 8
    )
    assert (restore.by, restore.ended_at) == ("deadman", 9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("armed t1 1 1\napplied t1 2 3\n", "fault's command failed"),
        (
            "armed t1 1 1\napplied t1 2 0\nending t1 3 plan\nended t1 3 plan 1",
            "the node's undo (plan) failed (exit 1); its dead man's switch",
        ),
        ("armed t2 5 1\n", "a later fault replaced its plan"),
        ("armed t1 1 1\nending t1 3 plan\nended t1 3 plan 0", "no record"),
    ],
)
def test_what_went_wrong_on_the_node_is_an_error_naming_it(text, message):
    with pytest.raises(NodeAccessError, match="kubelet on node w1: ") as err:
        rs.restore_of(plan(1), rs.parse_log(text, "t1"), HostClock(9, 9, 0), 8)
    assert message in str(err.value)


def test_a_host_clock_maps_uptimes_through_the_exchanges_midpoint():
    clock = clock_of("x\nnow 500.25\n", sent=1000.0, received=1001.0)
    assert (clock.at, clock.error_s) == (1000.5, 0.5)
    assert clock.epoch(490.25) == pytest.approx(990.5)
    with pytest.raises(NodeAccessError):
        clock_of("nothing", 0, 1)


def test_process_start_times_come_from_the_kernels_record():
    assert sh_syntax_ok(process_starts_script("kubelet"))

    def run(script, timeout_s):
        out = "clk 100\npid 42 12345\npid 43 20000\nnow 200.00\n"
        return subprocess.CompletedProcess([], 0, out, "")

    found = process_starts(run, "kubelet")
    now = time.time()
    assert found[42] == pytest.approx(now - (200 - 123.45), abs=1)
    assert found[43] == pytest.approx(now, abs=1)


def test_this_hosts_process_start_times_are_read():
    def run(script, timeout_s):
        return subprocess.run(
            ["sh", "-c", script], capture_output=True, text=True, check=False
        )

    mine = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.3)
        started = process_starts(run, "sleep")
    finally:
        mine.kill()
        mine.wait()
    assert started[mine.pid] == pytest.approx(time.time() - 0.3, abs=1.5)


# -- live, on this host -------------------------------------------------------


def touch(directory, name):
    return f"touch {shlex.quote(str(directory / name))}"


@live
def test_the_node_undoes_a_fault_its_duration_after_it_ran(host):
    run, node, tmp = host.run, host.node, host.tmp
    restores = rs.PlannedRestores(deadman_s=30)
    planned = restores.plan(node, "kubelet", 1)
    slow_fault = f"sleep 1; {touch(tmp, 'faulted')}"  # a graceful stop
    script = restores.script(planned, touch(tmp, "undone"), slow_fault)
    before = time.time()  # a loaded host may undo it before run() returns
    assert run(script).returncode == 0
    restore = restores.wait(run, node, "kubelet", margin_s=10)
    assert (tmp / "faulted").exists() and (tmp / "undone").exists()
    assert restore.by == "plan" and restore.what == "kubelet"
    assert restore.ended_at - restore.applied_at == pytest.approx(1, abs=1.0)
    assert before <= restore.ended_at <= time.time()
    assert not os.path.exists(rs.switch_path(node, "kubelet"))


@live
def test_an_early_start_cancels_the_plan_for_good(host):
    run, node, tmp = host.run, host.node, host.tmp
    restores = rs.PlannedRestores(deadman_s=2)
    planned = restores.plan(node, "kubelet", 1)
    run(restores.script(planned, touch(tmp, "undone"), "true"))
    run(rs.cancel_script(node, "kubelet"))
    restore = restores.wait(run, node, "kubelet", margin_s=5)
    assert restore.by == "runner"
    time.sleep(1.5)  # past the plan and the dead man's switch
    assert not (tmp / "undone").exists()


@live
def test_a_later_fault_retires_the_watchers_of_the_earlier_one(host):
    run, node, tmp = host.run, host.node, host.tmp
    restores = rs.PlannedRestores(deadman_s=None)
    first = restores.plan(node, PARTITION, 1)
    run(restores.script(first, touch(tmp, "first"), "true"))
    second = restores.plan(node, PARTITION, 2)
    run(restores.script(second, touch(tmp, "second"), "true"))
    restore = restores.wait(run, node, PARTITION, margin_s=5)
    assert (restore.by, (tmp / "second").exists()) == ("plan", True)
    assert not (tmp / "first").exists()
    log = run(f"cat {rs.log_path(node, PARTITION)}").stdout
    assert rs.parse_log(log, first.token).replaced


@live
def test_a_failed_planned_undo_is_left_to_the_dead_mans_switch(host):
    run, node, tmp = host.run, host.node, host.tmp
    flaky = f"[ -f {tmp}/tried ] || {{ {touch(tmp, 'tried')}; exit 1; }}"
    restores = rs.PlannedRestores(deadman_s=3)
    planned = restores.plan(node, "kubelet", 1)
    run(restores.script(planned, f"{flaky}\n{touch(tmp, 'undone')}", "true"))
    with pytest.raises(NodeAccessError, match=r"undo \(plan\) failed"):
        restores.wait(run, node, "kubelet", margin_s=5)
    for _ in range(50):
        if (tmp / "undone").exists():
            break
        time.sleep(0.1)
    log = rs.parse_log(
        run(f"cat {rs.log_path(node, 'kubelet')}").stdout, planned.token
    )
    assert log.ended is not None and log.ended[1:] == ("deadman", 0)


@live
def test_a_node_that_never_answers_is_an_error_naming_it(host):
    node = host.node
    restores = rs.PlannedRestores(deadman_s=600)
    restores.plan(node, "kubelet", 0.1)

    def unreachable(script, timeout_s):
        raise NodeAccessError("exec stream lost")

    with pytest.raises(NodeAccessError) as err:
        restores.wait(unreachable, node, "kubelet", margin_s=0.1)
    message = str(err.value)
    assert message.startswith(f"kubelet on node {node}: not undone")
    assert "dead man's switch undoes it 600s after" in message
    assert "gauntlet recover" in message
