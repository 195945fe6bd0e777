"""``gauntlet lab upgrade --to vX.Y.Z``: upgrade the lab in place.

The documented order (the version skew policy's, and kubeadm's): each
control-plane node in turn, etcd if the release pins a newer one, then
kube-apiserver (ready again before the next), controller-manager and
scheduler; then every node with a kubelet: cordoned and drained (evictions,
which PodDisruptionBudgets may hold up), kubelet and kube-proxy swapped,
Ready at the new version, uncordoned. A component is upgraded by giving
its supervisor the same command line with the new release's binary.

Each step's start and end go to a JSON-lines file when asked, so that a
rehearsal (UPG-06) reports per-step durations from the same clock. An
upgrade stopped halfway is finished by running it again: components
already on the new binary are left alone.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.cluster.client import ClusterTarget, api_client
from gauntlet.cluster.drain import cordon, drain, uncordon
from gauntlet.errors import GauntletError, LabError
from gauntlet.kube_version import parse_version
from gauntlet.lab import build
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.components import Binaries
from gauntlet.lab.versions import Release
from gauntlet.upgrade_steps import Step, append_step
from gauntlet.wellknown import APISERVER_PORT, LAB_NAME

__all__ = ["Step", "swap_binary", "upgrade_lab"]

DRAIN_TIMEOUT_S = 180.0
READY_TIMEOUT_S = 180.0
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODE_AGENTS = ("kubelet", "kube-proxy")


def swap_binary(argv: list[str], old_dir: Path, new_dir: Path) -> list[str]:
    """``argv`` with every path inside ``old_dir`` moved to ``new_dir``.

    Raises:
        LabError: the program itself is not one of ``old_dir``'s (the
            component runs something this upgrade did not build).
    """
    old, new = str(old_dir), str(new_dir)
    if not argv or not argv[0].startswith(old + "/"):
        program = argv[0] if argv else "nothing"
        raise LabError(f"{program} is not a binary of {old}")
    return [new + a[len(old) :] if a.startswith(old + "/") else a for a in argv]


def upgrade_lab(
    lab: LabCluster, to: Release, steps_file: Path | None = None
) -> list[Step]:
    """Upgrade the running lab to ``to``, one minor (or a patch) up.

    Raises:
        LabError: no lab is up, it runs a flavor this cannot upgrade, the
            target is not one minor or a patch up, or a step failed (the
            lab is left as far as it got, and the error names the step).
    """
    topo = lab.topology()
    current = lab.running_release()
    if topo is None or current is None:
        raise LabError("no lab is up: run `gauntlet lab up --version ...`")
    if topo.flavor == "kubeadm":
        raise LabError(
            "a kubeadm lab is upgraded with kubeadm upgrade apply/node, "
            "which gauntlet does not drive: use a services or managed lab"
        )
    _check_step(current, to)
    with progress.step(f"Preparing {to.kubernetes} binaries"):
        build.ensure_all(to)
    old, new = lab.binaries(), LabCluster(lab.paths, release=to).binaries()
    access = LabNodeAccess(lab)
    context = LAB_NAME if topo.flavor == "services" else None
    cluster = api_client(ClusterTarget(lab.paths.kubeconfig, context))
    core = cluster.core()
    steps: list[Step] = []
    record = _recorder(steps, steps_file)
    progress.say(f"upgrading the lab {current.kubernetes} -> {to.kubernetes}")
    try:
        for cp in topo.control_planes:
            if current.etcd != to.etcd:
                with record("etcd", cp.name):
                    _swap(access, cp.name, "etcd", old.etcd, new.etcd)
            for name in CONTROL_PLANE:
                with record(name, cp.name):
                    _swap(access, cp.name, name, old.kubernetes, new.kubernetes)
                    if name == "kube-apiserver":
                        _wait_apiserver_ready(lab, cp.ip, to)
        for n in topo.kubelet_nodes:
            try:
                _upgrade_node(access, core, record, n.name, old, new, to)
            except BaseException:
                uncordon(core, n.name)  # stopped halfway: schedulable again
                raise
    finally:
        cluster.close()
    lab.record_release(to)
    total = sum(s.seconds for s in steps)
    progress.say(
        f"lab upgraded to {to.kubernetes}: {len(steps)} steps, {total:.0f}s"
    )
    return steps


def _upgrade_node(
    access: LabNodeAccess,
    core: client.CoreV1Api,
    record: Callable[[str, str], AbstractContextManager[None]],
    node: str,
    old: Binaries,
    new: Binaries,
    to: Release,
) -> None:
    """Drain, kubelet and kube-proxy to ``to``, Ready, uncordon."""
    with record("drain", node):
        cordon(core, node)
        result = drain(core, node, DRAIN_TIMEOUT_S)
        if not result.complete:
            raise LabError(
                f"draining {node} left {', '.join(result.remaining)} after "
                f"{DRAIN_TIMEOUT_S:.0f}s (PodDisruptionBudgets refused "
                f"{result.refused} evictions)"
            )
    for name in NODE_AGENTS:
        if not _runs(access, node, name):
            continue
        with record(name, node):
            _swap(access, node, name, old.kubernetes, new.kubernetes)
            if name == "kubelet":
                _wait_node_ready_at(core, node, to)
    with record("uncordon", node):
        uncordon(core, node)


def _check_step(current: Release, to: Release) -> None:
    now, then = parse_version(current.kubernetes), parse_version(to.kubernetes)
    if now == then:
        raise LabError(f"the lab already runs {to.kubernetes}")
    if then.major == now.major and (
        then.minor == now.minor + 1 or (then.minor == now.minor and then > now)
    ):
        return
    raise LabError(
        f"the lab runs {current.kubernetes}; {to.kubernetes} is not one "
        "minor or a patch up (upgrade one minor at a time)"
    )


def _recorder(
    steps: list[Step], steps_file: Path | None
) -> Callable[[str, str], AbstractContextManager[None]]:
    @contextmanager
    def record(step: str, node: str) -> Iterator[None]:
        start = time.time()
        with progress.step(f"{node}: {step}", heartbeat=False):
            try:
                yield
            except GauntletError as exc:
                raise LabError(f"upgrade step {step} on {node}: {exc}") from exc
        done = Step(step, node, start, time.time())
        steps.append(done)
        if steps_file is not None:
            append_step(steps_file, done)

    return record


def _runs(access: LabNodeAccess, node: str, name: str) -> bool:
    try:
        access.component(node, name)
    except LabError:
        return False
    return True


def _swap(
    access: LabNodeAccess, node: str, name: str, old_dir: Path, new_dir: Path
) -> None:
    """Restart the component on the new binary; one that already runs it
    (an upgrade stopped halfway, run again) is left alone."""
    argv = access.argv(node, name)
    if argv and argv[0].startswith(f"{new_dir}/"):
        return
    access.set_argv(node, name, swap_binary(argv, old_dir, new_dir))


def _wait_apiserver_ready(lab: LabCluster, ip: str, to: Release) -> None:
    """This API server (not the load balancer) is ready at ``to``."""
    server = f"https://{ip}:{APISERVER_PORT}"

    def ready() -> bool:
        out = subprocess.run(
            [*lab.kubectl(), f"--server={server}", "version", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if out.returncode != 0:
            return False
        version = json.loads(out.stdout).get("serverVersion", {})
        if version.get("gitVersion") != to.kubernetes:
            return False
        probe = subprocess.run(
            [*lab.kubectl(), f"--server={server}", "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return probe.returncode == 0

    progress.wait_until(
        f"the API server at {server} to be ready at {to.kubernetes}",
        ready,
        READY_TIMEOUT_S,
        poll_s=1.0,
    )


def _wait_node_ready_at(core: client.CoreV1Api, node: str, to: Release) -> None:
    def ready() -> bool:
        try:
            status = core.read_node(node).status
        except (ApiException, urllib3.exceptions.HTTPError):
            return False  # the API through the load balancer may blink

        if status is None or status.node_info is None:
            return False
        if status.node_info.kubelet_version != to.kubernetes:
            return False
        return any(
            c.type == "Ready" and c.status == "True"
            for c in status.conditions or []
        )

    progress.wait_until(
        f"node {node} Ready with kubelet {to.kubernetes}",
        ready,
        READY_TIMEOUT_S,
        poll_s=1.0,
    )
