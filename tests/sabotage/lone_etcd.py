"""A minority API server with a quorum of its own: the split brain that
PART-01 and PART-04 exist to catch.

The sabotage points cp3's kube-apiserver at a single-member etcd started
inside cp3 (127.0.0.1:2399): cut off from cp1 and cp2, or with their etcd
members stopped, it still acknowledges writes.
"""

import contextlib
import secrets
import signal
import time

import pytest
from kubernetes import client

from gauntlet.checks.chaos import _support
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.observe.endpoints import endpoint_client

MINORITY = "cp3"
LONE_CLIENT = "http://127.0.0.1:2399"
LONE_PEER = "http://127.0.0.1:2398"
READY_TIMEOUT_S = 90.0


def start_lone_etcd(lab, faults, data_dir):
    etcd = lab.binaries().etcd
    command = (
        f"setsid {etcd / 'etcd'} --name lone --data-dir {data_dir} "
        f"--listen-client-urls {LONE_CLIENT} "
        f"--advertise-client-urls {LONE_CLIENT} "
        f"--listen-peer-urls {LONE_PEER} "
        f"--initial-advertise-peer-urls {LONE_PEER} "
        f"--initial-cluster lone={LONE_PEER} "
        f"</dev/null >{data_dir}.log 2>&1 & echo $!"
    )
    out = faults.exec(MINORITY, ["sh", "-c", command])
    pid = out.stdout.strip()
    health = [str(etcd / "etcdctl"), f"--endpoints={LONE_CLIENT}"]
    deadline = time.monotonic() + 30
    while faults.exec(
        MINORITY, [*health, "endpoint", "health"], check=False
    ).returncode:
        assert time.monotonic() < deadline, "the lone etcd never got healthy"
        time.sleep(1)
    return pid


def stop_lone_etcd(faults, pid, data_dir):
    """Stop it and wait until it is gone before removing its data: a
    loaded host may still be flushing when a fixed pause ends."""
    faults.exec(MINORITY, ["kill", pid], check=False)
    deadline = time.monotonic() + 30
    while not faults.exec(
        MINORITY, ["kill", "-0", pid], check=False
    ).returncode:
        if time.monotonic() > deadline:
            faults.exec(MINORITY, ["kill", "-9", pid], check=False)
            break
        time.sleep(0.5)
    faults.exec(MINORITY, ["rm", "-rf", data_dir, f"{data_dir}.log"])


def quick_set_argv(access, argv):
    """Crash the API server first: a graceful stop takes up to 15 s, during
    which the node's supervisor answers nobody else."""
    access.kill(MINORITY, "kube-apiserver", signal.SIGKILL)
    access.set_argv(MINORITY, "kube-apiserver", argv)


def wait_writable(check, endpoint):
    """Until a ConfigMap create in ``default`` works through ``endpoint``."""
    api = endpoint_client(check.cluster, endpoint)
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    try:
        while time.monotonic() < deadline:
            name = f"kg-lone-{secrets.token_hex(3)}"
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
            try:
                core.create_namespaced_config_map(
                    "default", body, _request_timeout=5
                )
                core.delete_namespaced_config_map(name, "default")
                return
            except Exception as exc:  # noqa: BLE001 - retried until deadline
                last = f"{type(exc).__name__}: {str(exc)[:120]}"
            time.sleep(2)
    finally:
        api.close()
    pytest.fail(f"{endpoint} never took a write: {last}")


def point_minority_at_lone_etcd(
    lab, faults, check, run_id: str, restore: contextlib.ExitStack
) -> None:
    """Run a lone etcd on cp3 and restart cp3's API server on it; undo
    steps go on ``restore``."""
    access = check.nodes
    sabotage = FaultLedger(f"{run_id}-lone-etcd-sabotage")
    restore.callback(_support.restore, sabotage)
    data_dir = f"/tmp/kg-lone-{secrets.token_hex(3)}"
    pid = start_lone_etcd(lab, faults, data_dir)
    restore.callback(stop_lone_etcd, faults, pid, data_dir)
    old = access.argv(MINORITY, "kube-apiserver")
    new = [
        f"--etcd-servers={LONE_CLIENT}"
        if arg.startswith("--etcd-servers=")
        else arg
        for arg in old
    ]
    sabotage.inject(
        f"point {MINORITY} kube-apiserver at a lone etcd",
        kinds.restore_argv(access, MINORITY, "kube-apiserver", old),
        lambda: quick_set_argv(access, new),
    )
    restore.callback(access.kill, MINORITY, "kube-apiserver", signal.SIGKILL)
    wait_writable(check, "https://10.250.0.13:6443")
