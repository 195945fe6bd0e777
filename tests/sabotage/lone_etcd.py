"""A lone single-member etcd on cp3, and API servers pointed at it.

The split brain that PART-01 and PART-04 exist to catch: cp3's
kube-apiserver on a single-member etcd started inside cp3
(127.0.0.1:2399); cut off from cp1 and cp2, or with their etcd members
stopped, it still acknowledges writes.

The single point of failure ARCH-11 exists to catch: every API server on
one lone member seeded with a snapshot of the cluster's data (so nothing
the cluster runs is lost meanwhile), the three original members stopped:
three masters, one etcd member, failure tolerance 0.
"""

import contextlib
import functools
import secrets
import signal
import time

import pytest
from etcd_sabotage import PKI, client_url, wait_member_healthy
from kubernetes import client

from gauntlet import progress
from gauntlet.checks.chaos import _support, writes
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.observe.endpoints import endpoint_client
from gauntlet.observe.etcd import etcd_processes

MINORITY = "cp3"
LONE_CLIENT = "http://127.0.0.1:2399"
LONE_PEER = "http://127.0.0.1:2398"
READY_TIMEOUT_S = 90.0
LONE_PORT = 2399
"""The lone member's client port when it listens on cp3's address."""


def start_lone_etcd(
    lab,
    faults,
    data_dir,
    node=MINORITY,
    client=LONE_CLIENT,
    peer=LONE_PEER,
    snapshot=None,
):
    """Start a single-member etcd on ``node``; with ``snapshot``, its data
    is that snapshot's (restored into ``data_dir`` first)."""
    etcd = lab.binaries().etcd
    if snapshot is not None:
        faults.exec(
            node,
            [
                str(etcd / "etcdutl"),
                "snapshot",
                "restore",
                snapshot,
                f"--data-dir={data_dir}",
                "--name=lone",
                f"--initial-cluster=lone={peer}",
                f"--initial-advertise-peer-urls={peer}",
            ],
        )
    command = (
        f"setsid {etcd / 'etcd'} --name lone --data-dir {data_dir} "
        f"--listen-client-urls {client} "
        f"--advertise-client-urls {client} "
        f"--listen-peer-urls {peer} "
        f"--initial-advertise-peer-urls {peer} "
        f"--initial-cluster lone={peer} "
        f"</dev/null >{data_dir}.log 2>&1 & echo $!"
    )
    out = faults.exec(node, ["sh", "-c", command])
    pid = out.stdout.strip()
    health = [str(etcd / "etcdctl"), f"--endpoints={client}"]
    deadline = time.monotonic() + 30
    while faults.exec(
        node, [*health, "endpoint", "health"], check=False
    ).returncode:
        assert time.monotonic() < deadline, "the lone etcd never got healthy"
        time.sleep(1)
    return pid


def stop_lone_etcd(faults, pid, data_dir, node=MINORITY):
    """Stop it and wait until it is gone before removing its data: a
    loaded host may still be flushing when a fixed pause ends."""
    faults.exec(node, ["kill", pid], check=False)
    deadline = time.monotonic() + 30
    while not faults.exec(node, ["kill", "-0", pid], check=False).returncode:
        if time.monotonic() > deadline:
            faults.exec(node, ["kill", "-9", pid], check=False)
            break
        time.sleep(0.5)
    faults.exec(node, ["rm", "-rf", data_dir, f"{data_dir}.log"])


def quick_set_argv(access, argv, node=MINORITY):
    """Crash the API server first: a graceful stop takes up to 15 s, during
    which the node's supervisor answers nobody else."""
    access.kill(node, "kube-apiserver", signal.SIGKILL)
    access.set_argv(node, "kube-apiserver", argv)


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


def save_snapshot(lab, faults, node, path):
    """A snapshot of the cluster's etcd data, taken from ``node``'s
    member, written on ``node``."""
    faults.exec(
        node,
        [
            str(lab.binaries().etcd / "etcdctl"),
            f"--endpoints={client_url(faults, node)}",
            f"--cacert={PKI}/ca.crt",
            f"--cert={PKI}/healthcheck-client.crt",
            f"--key={PKI}/healthcheck-client.key",
            "snapshot",
            "save",
            path,
        ],
    )


def lone_etcd_behind_every_apiserver(
    lab, faults, etcd, check, run_id: str, restore: contextlib.ExitStack
) -> str:
    """Three masters on one etcd member; return its client URL.

    A lone member on cp3 (at cp3's address, so every API server reaches
    it) starts from a snapshot of the cluster's data; every API server is
    restarted on it; then the three original members are stopped, so the
    only etcd left running is the lone one. The undo (on ``restore``,
    LIFO) starts the members, puts the API servers back, stops the lone
    member and waits until the control plane is healthy.
    """
    access = check.nodes
    topo = faults.lab.topology()
    assert topo is not None
    masters = [n.name for n in topo.control_planes]
    lone = f"http://{topo.node(MINORITY).ip}:{LONE_PORT}"
    restore.callback(settle, etcd, faults, check, masters)  # runs last
    data_dir = f"/tmp/kg-lone-{secrets.token_hex(3)}"
    snapshot = f"{data_dir}.db"
    restore.callback(faults.exec, MINORITY, ["rm", "-f", snapshot], False)
    save_snapshot(lab, faults, MINORITY, snapshot)
    pid = start_lone_etcd(
        lab, faults, data_dir, MINORITY, lone, LONE_PEER, snapshot
    )
    restore.callback(stop_lone_etcd, faults, pid, data_dir)
    sabotage = FaultLedger(f"{run_id}-lone-etcd-ha-sabotage")
    restore.callback(_support.restore, sabotage)
    for node in masters:
        old = access.argv(node, "kube-apiserver")
        new = [
            f"--etcd-servers={lone}" if a.startswith("--etcd-servers=") else a
            for a in old
        ]
        sabotage.inject(
            f"point {node} kube-apiserver at a lone etcd",
            kinds.restore_argv(access, node, "kube-apiserver", old),
            functools.partial(quick_set_argv, access, new, node),
        )
        wait_writes_through(check, f"https://{topo.node(node).ip}:6443")
    for node in masters:
        sabotage.inject(
            f"stop etcd on {node}",
            kinds.start_component(access, node, "etcd"),
            functools.partial(access.stop, node, "etcd"),
        )
    progress.wait_until(
        "the lone member the only etcd running",
        lambda: (
            {
                n: c.flag("name")
                for n, c in etcd_processes(access, check.topology).items()
            }
            == {MINORITY: "lone"}
        ),
        READY_TIMEOUT_S,
    )
    return lone


def wait_writes_through(check, endpoint):
    """Until one API server, at its own address, takes a write."""
    progress.wait_until(
        f"{endpoint} taking writes",
        lambda: writes.writable(check, endpoint),
        READY_TIMEOUT_S,
        2.0,
    )


def settle(etcd, faults, check, masters):
    """Every original member answers, then the control plane works (its
    health wait raises at once when no member answers at all)."""
    for node in masters:
        wait_member_healthy(etcd, faults, node)
    _support.wait_control_plane_healthy(check, len(masters))
