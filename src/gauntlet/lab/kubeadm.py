"""Bootstrap a ``kubeadm``-flavored lab: ``kubeadm init``, then joins.

Runs the real kubeadm inside each node's namespaces, as an operator runs
it on each machine: init on the first control-plane node with
``--upload-certs``, the other control-plane nodes join one at a time
(each adds an etcd member), workers join together. The admin kubeconfig
is kubeadm's own ``admin.conf``.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gauntlet import progress
from gauntlet.errors import LabError
from gauntlet.lab import node as lab_node
from gauntlet.lab.components import Binaries
from gauntlet.lab.kubeadm_config import (
    JoinSecrets,
    ca_cert_hash,
    init_config,
    join_config,
)
from gauntlet.lab.paths import LabPaths
from gauntlet.lab.topology import LabNode, Topology
from gauntlet.lab.versions import Release

KUBEADM_TIMEOUT_S = 420.0
CONFIG_IN_NODE = "/etc/kubernetes/kube-gauntlet-kubeadm.yaml"


def new_secrets() -> JoinSecrets:
    """A fresh bootstrap token and certificate key, as kubeadm makes them."""
    token = f"{secrets.token_hex(3)}.{secrets.token_hex(8)}"
    return JoinSecrets(token=token, certificate_key=secrets.token_hex(32))


def bootstrap(
    paths: LabPaths, topology: Topology, bins: Binaries, release: Release
) -> None:
    """Init the first control plane, join the rest; write the kubeconfig."""
    first, *others = topology.control_planes
    keys = new_secrets()
    with progress.step(f"kubeadm init on {first.name}"):
        _kubeadm(
            paths,
            bins,
            first,
            init_config(topology, first, keys, release),
            ["init", "--upload-certs"],
        )
    np = paths.node(first.name)
    shutil.copyfile(np.etc_kubernetes / "admin.conf", paths.kubeconfig)
    paths.kubeconfig.chmod(0o600)
    ca = (np.etc_kubernetes / "pki" / "ca.crt").read_bytes()
    keys = JoinSecrets(keys.token, keys.certificate_key, ca_cert_hash(ca))

    def join(n: LabNode) -> None:
        _kubeadm(paths, bins, n, join_config(n, keys), ["join"])

    with ThreadPoolExecutor(max_workers=max(1, len(topology.workers))) as pool:
        workers = [pool.submit(join, w) for w in topology.workers]
        for n in others:
            with progress.step(f"kubeadm join --control-plane on {n.name}"):
                join(n)
        with progress.step("waiting for the workers' kubeadm join"):
            for done in workers:
                done.result()


def _kubeadm(
    paths: LabPaths,
    bins: Binaries,
    node: LabNode,
    config: str,
    command: list[str],
) -> None:
    """Run one kubeadm command in ``node``; its output goes to the node log."""
    np = paths.node(node.name)
    (np.etc_kubernetes / Path(CONFIG_IN_NODE).name).write_text(config)
    pid = lab_node.init_pid(np)
    if pid is None:
        raise LabError(f"lab node {node.name} is not running")
    log = np.logs / "kubeadm.log"
    argv = [
        "nsenter",
        "-t",
        str(pid),
        "-m",
        "-u",
        "-n",
        "-p",
        "--",
        "env",
        f"PATH={bins.kubernetes}:{bins.containerd}:/usr/sbin:/usr/bin:/sbin:/bin",
        bins.k8s("kubeadm"),
        *command,
        f"--config={CONFIG_IN_NODE}",
        "--v=1",
    ]
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ kubeadm {' '.join(command)}\n")
        out.flush()
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=KUBEADM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(
                f"kubeadm {command[0]} on {node.name} did not finish in "
                f"{KUBEADM_TIMEOUT_S:.0f}s; see {log}"
            ) from exc
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-8:]
        raise LabError(
            f"kubeadm {command[0]} on {node.name} failed (exit "
            f"{proc.returncode}) after {time.monotonic() - start:.0f}s; "
            f"see {log}:\n" + "\n".join(tail)
        )
