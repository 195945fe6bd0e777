"""Host scripts of the pod backend: syntax, rules, and a live netns run."""

import os
import shlex
import shutil
import subprocess
import uuid

import pytest
from host_fakes import remove_host_files

from gauntlet.nodes import host_commands as hc
from gauntlet.nodes.helper_pods import pod_name
from gauntlet.nodes.parse import parse_ps, parse_ss
from gauntlet.nodes.restores import PlannedRestores, cancel_script


def sh_syntax_ok(script):
    return (
        subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0
    )


@pytest.mark.parametrize("op", ["stop", "start", "kill", "halt"])
def test_component_scripts_are_valid_shell_and_know_no_lab(op):
    script = hc.component_script(op, "kube-apiserver")
    assert sh_syntax_ok(script)
    assert "systemctl cat kube-apiserver.service" in script
    assert "supervisor" not in script and "kube-gauntlet/lab" not in script


def test_stop_is_armed_with_the_dead_mans_switch_and_start_cancels_it():
    restores = PlannedRestores(deadman_s=90)
    plan = restores.plan("w1", "kubelet", None)
    undo = hc.component_script("start", "kubelet")
    stop = restores.script(plan, undo, hc.component_script("stop", "kubelet"))
    switch = "/tmp/kube-gauntlet-undo-w1-kubelet"
    assert sh_syntax_ok(stop)
    assert f"> {switch}\n" in stop and " deadman 90\n" in stop
    assert '"$kg_token" plan' not in stop
    assert stop.index("kg_spawn kube-gauntlet") < stop.index("systemctl stop")
    start = cancel_script("w1", "kubelet") + undo
    assert sh_syntax_ok(start)
    assert f"rm -f {switch}\n" in start


def test_partition_drops_both_directions_in_the_lab_chain():
    script = hc.partition_script(["10.0.0.1", "10.0.0.2"])
    assert sh_syntax_ok(script)
    for ip in ("10.0.0.1", "10.0.0.2"):
        for direction in ("-s", "-d"):
            assert f"-A KG-PARTITION {direction} {ip} -j DROP" in script
    for hook in ("INPUT", "OUTPUT", "FORWARD"):
        assert f"-I {hook} 1 -j KG-PARTITION" in script
    assert sh_syntax_ok(hc.heal_script())


def netns_available():
    if shutil.which("unshare") is None or shutil.which("iptables") is None:
        return False
    probe = ["unshare", "-n", "iptables", "-w", "5", "-nL"]
    return (
        subprocess.run(probe, capture_output=True, check=False).returncode == 0
    )


@pytest.mark.skipif(
    not netns_available(), reason="needs root, unshare, iptables"
)
def test_partition_heal_and_dead_mans_switch_in_a_private_netns():
    node = f"unit-{uuid.uuid4().hex[:8]}"
    restores = PlannedRestores(deadman_s=1)
    armed = restores.script(
        restores.plan(node, "partition", None),
        hc.heal_script(),
        hc.partition_script(["10.9.9.9"]),
    )
    partition = shlex.quote(armed)
    heal = shlex.quote(cancel_script(node, "partition") + hc.heal_script())
    count = "iptables -w 5 -S | grep -c KG-PARTITION || true"
    script = "\n".join(
        [
            f"sh -c {partition} && {count}",
            f"sh -c {partition} && {count}",
            f"sh -c {heal} && {count}",
            f"sh -c {partition} && {count}",
            # the host heals itself after 1 s: wait up to 10 s for it
            f'for i in $(seq 50); do [ "$({count})" = 0 ] && break; '
            f"sleep 0.2; done; {count}",
        ]
    )
    try:
        done = subprocess.run(
            # a PID namespace of its own: no systemd-run, no cgroup moves
            ["unshare", "-n", "-p", "-f", "--mount-proc", "sh", "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "INVOCATION_ID": "unit-test"},
        )
    finally:
        remove_host_files(node)
    # chain + 3 hooks + 2 rules, idempotent, healed; then healed by the
    # host itself when nobody heals within the dead man's time
    assert done.stdout.split() == ["6", "6", "0", "6", "0"]


def test_pod_names_are_valid_and_bounded():
    assert pod_name("20260101T000000Z-abc123", "w1") == "kg-node-abc123-w1"
    long = pod_name("r-abc123", "ip-10-0-0-1." + "x" * 80 + ".internal")
    assert len(long) <= 63 and long.startswith("kg-node-abc123-ip-10-0-0-1.")
    assert pod_name("r-1", "Node_A") == "kg-node-1-node-a"


def test_ps_and_ss_output_parse():
    procs = parse_ps("    1     0 init /sbin/init splash\n   42     1 etcd\n")
    assert [(p.pid, p.comm, p.args) for p in procs] == [
        (1, "init", "/sbin/init splash"),
        (42, "etcd", ""),
    ]
    conns = parse_ss(
        '0 0 10.0.0.1:2379 10.0.0.1:51234 users:(("etcd",pid=42,fd=9))\n'
    )
    assert conns[0].local_port == 2379
    assert (conns[0].process, conns[0].pid) == ("etcd", 42)


def test_host_commands_run_the_hosts_tools_not_the_helpers_applets():
    """A busybox nsenter prefers its own applets for bare names; a path
    is exec'd as given, and the host's env finds the host's ps."""
    argv = hc.on_host(["ps", "-ww", "-eo", "pid="])
    after = argv[argv.index("--") + 1 :]
    assert after[0] == "/usr/bin/env"
    assert after[1].startswith("PATH=") and after[2:] == [
        "ps",
        "-ww",
        "-eo",
        "pid=",
    ]
