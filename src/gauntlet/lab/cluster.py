"""``LabCluster``: boot, inspect and tear down the lab, idempotently.

``up`` reuses a healthy lab of the same shape, and rebuilds from scratch
anything else (a crashed or killed run included); ``down`` removes
everything by name, so it works without a record of what ``up`` did.
``state`` reports the lab without touching it, for callers that must
not rebuild it (``gauntlet run``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet import progress
from gauntlet.errors import LabError
from gauntlet.images import (
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    COREDNS_IMAGE,
    GLIBC_DNS_IMAGE,
    PAUSE_IMAGE,
)
from gauntlet.lab import (
    boot_wait,
    build,
    cleanup,
    kubeadm,
    network,
    node,
    pki,
)
from gauntlet.lab import supervisor_client as sup
from gauntlet.lab.node_images import node_images
from gauntlet.lab.nodeconfig import Binaries, write_node
from gauntlet.lab.paths import LabPaths
from gauntlet.lab.spec_images import SPEC_IMAGES
from gauntlet.lab.state import LabState
from gauntlet.lab.topology import (
    API_SERVICE_IP,
    BRIDGE_IP,
    LB_ENDPOINT,
    Topology,
    plan,
)
from gauntlet.lab.versions import CURRENT, RELEASES, Release
from gauntlet.wellknown import APISERVER_PORT

MANAGED_NAME = "managed-cluster"
LAB_IMAGES = (
    PAUSE_IMAGE,
    COREDNS_IMAGE,
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    GLIBC_DNS_IMAGE,
    *SPEC_IMAGES,
)
"""What every node imports at boot, recorded in the lab's manifest."""


@dataclass(frozen=True)
class BootReport:
    """What ``up`` did and how long it took."""

    kubeconfig: Path
    seconds: float
    reused: bool


class LabCluster:
    """One lab on this host, described by its state directory."""

    def __init__(
        self, paths: LabPaths | None = None, release: Release | None = None
    ) -> None:
        self.paths = paths or LabPaths.default()
        self._release = release

    @property
    def release(self) -> Release:
        """The release asked for, else the one the lab that is up runs
        (its manifest), else the current one."""
        if self._release is not None:
            return self._release
        return self.running_release() or CURRENT

    def running_release(self) -> Release | None:
        """The release the lab that is up runs (after any upgrade)."""
        try:
            version = json.loads(self.paths.manifest.read_text())["kubernetes"]
        except (OSError, ValueError, KeyError):
            return None
        return RELEASES.get(str(version))

    def record_release(self, release: Release) -> None:
        """Note in the manifest that the lab now runs ``release`` (after
        ``lab upgrade``), so later commands use its binaries."""
        data = self.manifest()
        data["kubernetes"] = release.kubernetes
        self.paths.manifest.write_text(json.dumps(data, indent=2))
        self._release = release

    # -- inspection ---------------------------------------------------------

    def flavor(self) -> str | None:
        """The flavor of the lab that is set up, None without one."""
        topo = self.topology()
        return topo.flavor if topo is not None else None

    def topology(self) -> Topology | None:
        try:
            data = json.loads(self.paths.manifest.read_text())
        except (OSError, ValueError):
            return None
        return plan(
            data["control_planes"],
            data["workers"],
            data.get("flavor", "services"),
        )

    def manifest(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.paths.manifest.read_text())
        except (OSError, ValueError) as exc:
            raise LabError("no lab is up: run `gauntlet lab up`") from exc
        return data

    def missing_images(self) -> tuple[str, ...]:
        """Images this version runs that the lab's boot did not import."""
        try:
            imported = set(self.manifest().get("images") or ())
        except LabError:
            return ()
        return tuple(i for i in LAB_IMAGES if i not in imported)

    def binaries(self) -> Binaries:
        return Binaries(
            kubernetes=build.kubernetes_build(self.release).out_dir,
            etcd=build.etcd_build(self.release).out_dir,
            containerd=build.containerd_build(self.release).out_dir,
        )

    def kubectl(self) -> list[str]:
        return [
            self.binaries().k8s("kubectl"),
            f"--kubeconfig={self.paths.kubeconfig}",
        ]

    def kubectl_json(self, *args: str) -> Any:
        out = subprocess.run(
            [*self.kubectl(), *args, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if out.returncode != 0:
            raise LabError(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
        return json.loads(out.stdout)

    def node_pid(self, name: str) -> int:
        pid = node.init_pid(self.paths.node(name))
        if pid is None:
            raise LabError(f"lab node {name} is not running")
        return pid

    def components(self, name: str) -> list[dict[str, Any]]:
        reply = sup.call(self.paths.node(name).socket, "status", timeout_s=10)
        return list(reply["components"])

    def nodes_alive(self) -> bool:
        topo = self.topology()
        return topo is not None and all(
            node.init_pid(self.paths.node(n.name)) is not None
            for n in topo.nodes
        )

    def ready_nodes(self) -> list[str]:
        items = self.kubectl_json("get", "nodes")["items"]
        return [
            i["metadata"]["name"]
            for i in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in i["status"].get("conditions", [])
            )
        ]

    def healthy(self) -> bool:
        topo = self.topology()
        if topo is None or not self.nodes_alive():
            return False
        try:
            return len(self.ready_nodes()) == len(topo.kubelet_nodes)
        except (LabError, subprocess.TimeoutExpired):
            return False

    def state(self) -> LabState:
        """The lab as it is: shape, nodes gone or not Ready; no side effects.

        Asks the API only while a node runs, so a dead lab answers at once.
        """
        topo = self.topology()
        if topo is None:
            return LabState(None, leftovers=tuple(cleanup.lab_processes()))
        shape = (len(topo.control_planes), len(topo.workers))
        booted = bool(self.manifest().get("booted"))
        missing = self.missing_images()
        gone = tuple(
            n.name
            for n in topo.nodes
            if node.init_pid(self.paths.node(n.name)) is None
        )
        if len(gone) == len(topo.nodes):
            return LabState(
                shape, (), booted, gone, gone, "no node is running", missing
            )
        try:
            ready = set(self.ready_nodes())
        except (LabError, OSError, subprocess.TimeoutExpired) as exc:
            why = str(exc) or type(exc).__name__
            return LabState(shape, (), booted, gone, (), why, missing)
        not_ready = tuple(
            n.name for n in topo.kubelet_nodes if n.name not in ready
        )
        return LabState(shape, (), booted, gone, not_ready, None, missing)

    # -- lifecycle ------------------------------------------------------------

    def up(
        self,
        control_planes: int = 3,
        workers: int = 2,
        flavor: str = "services",
    ) -> BootReport:
        """Boot a lab of this shape and flavor (or reuse a healthy one)
        that runs ``self.release``; a lab of another release is rebuilt."""
        self._release = self.release  # fixed before down() drops the manifest
        topo = plan(control_planes, workers, flavor)
        current = self.topology()
        missing = self.missing_images() if current is not None else ()
        running = self.running_release() if current is not None else None
        other_release = running is not None and running != self.release
        if other_release and running is not None:
            progress.say(
                f"the lab up runs {running.kubernetes}, not "
                f"{self.release.kubernetes}"
            )
        if (
            current == topo
            and not missing
            and not other_release
            and self.healthy()
        ):
            progress.say("a healthy lab of this shape is already up: reusing")
            return BootReport(self.paths.kubeconfig, 0.0, True)
        if missing:
            progress.say(f"the lab up lacks {', '.join(missing)}")
        if current is not None or cleanup.lab_processes():
            progress.say("removing the previous lab first")
            self.down()
        _check_host()
        with progress.step("Preparing binaries"):
            bins_dirs = build.ensure_all(self.release)
        start = time.monotonic()
        image_tars = node_images(self.release, topo, bins_dirs["coredns"])
        self.paths.root.mkdir(parents=True, exist_ok=True)
        if topo.flavor != "kubeadm":
            self._issue_certificates(topo)
        self._write_manifest(topo, booted=False)
        self._create_mountpoints()
        with progress.step("Creating the lab network", heartbeat=False):
            network.create_bridge()
            for n in topo.nodes:
                network.create_node_network(n, topo)
        bins = self.binaries()
        with progress.step(
            f"Starting {len(topo.nodes)} nodes", heartbeat=False
        ):
            for n in topo.nodes:
                write_node(
                    self.paths, n, topo, bins, image_tars[n.name], PAUSE_IMAGE
                )
                node.start_node(n, self.paths.node(n.name))
            self._start_lb(topo)
        if topo.flavor == "kubeadm":
            kubeadm.bootstrap(self.paths, topo, bins, self.release)
        else:
            pki.write_kubeconfig(
                self.paths.kubeconfig,
                server=LB_ENDPOINT,
                ca_file=self.paths.pki / "ca.crt",
                cert_file=self.paths.pki / "admin.crt",
                key_file=self.paths.pki / "admin.key",
                user="kubernetes-admin",
                **_kubeconfig_names(topo),
            )
        boot_wait.wait_ready(self, topo)
        seconds = time.monotonic() - start
        self._write_manifest(topo, booted=True, boot_seconds=seconds)
        progress.say(
            f"{topo.flavor} lab up in {seconds:.1f}s; "
            f"kubeconfig: {self.paths.kubeconfig}"
        )
        return BootReport(self.paths.kubeconfig, seconds, False)

    def _issue_certificates(self, topo: Topology) -> None:
        with progress.step("Issuing certificates", heartbeat=False):
            pki.ensure_pki(
                self.paths.pki,
                pki.PkiSpec(
                    nodes=tuple(
                        pki.NodeIdentity(n.name, n.ip, n.control_plane)
                        for n in topo.nodes
                    ),
                    apiserver_sans_ips=(BRIDGE_IP, "127.0.0.1", API_SERVICE_IP),
                ),
            )

    def down(self) -> list[str]:
        """Stop everything and remove every trace; return leftovers."""
        topo = self.topology()
        if topo is not None:
            with progress.step("Stopping lab nodes", heartbeat=False):
                node.stop_nodes([self.paths.node(n.name) for n in topo.nodes])
        with progress.step("Removing the lab", heartbeat=False):
            return cleanup.remove_everything(self.paths)

    # -- steps ----------------------------------------------------------------

    def _write_manifest(
        self, topo: Topology, booted: bool, boot_seconds: float | None = None
    ) -> None:
        self.paths.manifest.write_text(
            json.dumps(
                {
                    "control_planes": len(topo.control_planes),
                    "workers": len(topo.workers),
                    "flavor": topo.flavor,
                    "kubernetes": self.release.kubernetes,
                    "booted": booted,
                    "boot_seconds": boot_seconds,
                    "kubeconfig": str(self.paths.kubeconfig),
                    "images": list(LAB_IMAGES),
                },
                indent=2,
            )
        )

    def _create_mountpoints(self) -> None:
        created = []
        sample = self.paths.node("x").bind_sources()
        for target in sample:
            p = Path(target)
            missing = []
            while not p.exists():
                missing.append(str(p))
                p = p.parent
            Path(target).mkdir(parents=True, exist_ok=True)
            created += missing
        self.paths.created_dirs.write_text(json.dumps(created))

    def _start_lb(self, topo: Topology) -> None:
        backends = [f"{n.ip}:{APISERVER_PORT}" for n in topo.control_planes]
        log = self.paths.lb_log.open("ab")
        src = str(Path(__file__).resolve().parents[2])
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gauntlet.lab.lb",
                f"{BRIDGE_IP}:{APISERVER_PORT}",
                *backends,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={"PYTHONPATH": src, "PATH": "/usr/bin"},
        )
        self.paths.lb_pid.write_text(f"{proc.pid}\n")


def _kubeconfig_names(topo: Topology) -> dict[str, str]:
    """A managed lab goes by a name of its own: runs against it must treat
    it as any cluster met by kubeconfig, not as the lab."""
    if topo.flavor == "managed":
        return {"cluster_name": MANAGED_NAME, "context_name": MANAGED_NAME}
    return {}


def _check_host() -> None:
    import os
    import shutil

    if os.geteuid() != 0:
        raise LabError("the lab needs root (namespaces, mounts, iptables)")
    missing = [
        t
        for t in (
            "ip",
            "iptables",
            "nsenter",
            "unshare",
            "mount",
            "runc",
            "gcc",
            "go",
        )
        if shutil.which(t) is None
    ]
    if missing:
        raise LabError(
            f"missing host tools: {', '.join(missing)}; run "
            "scripts/setup.sh (installs the Debian packages)"
        )
    if not Path("/usr/lib/cni/bridge").exists():
        raise LabError(
            "CNI plugins missing: apt-get install containernetworking-plugins"
        )
