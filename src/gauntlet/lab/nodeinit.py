"""PID 1 of a lab node: make the namespaces look like a machine, then supervise.

Started by ``node.start_node`` as ``nsenter --net=<netns> unshare --pid
--fork --mount --uts --mount-proc python -m gauntlet.lab.nodeinit CONFIG``.
Inside, it gives the node a hostname, a fresh sysfs (its own interfaces),
the host's cgroup v1 hierarchies mounted again (runc needs them, ``ip netns
exec`` would hide them), and its own /etc/kubernetes, /var/lib/kubelet,
/run, ... bound from the node's state directory.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from gauntlet.lab.supervisor import Supervisor


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _host_cgroup_mounts() -> list[tuple[str, str, str]]:
    """(mountpoint, fstype, options) of the cgroup mounts we can see now."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        fields = pre.split()
        fstype, _source, super_opts = post.split()[:3]
        if fstype in ("cgroup", "cgroup2"):
            found.append((fields[4], fstype, super_opts))
    return found


def _cgroup_options(super_opts: str) -> str:
    opts = [o for o in super_opts.split(",") if o not in ("rw", "ro")]
    if all(o.startswith("name=") for o in opts):
        opts.insert(0, "none")
    return ",".join(opts)


def prepare_machine(config: dict[str, object]) -> None:
    """Mounts and names that make this namespace set a node."""
    cgroups = _host_cgroup_mounts()
    _mount("--make-rprivate", "/")
    socket.sethostname(str(config["hostname"]))
    _mount("-t", "sysfs", "sysfs", "/sys")
    _mount("-t", "tmpfs", "-o", "mode=755", "cgroup", "/sys/fs/cgroup")
    root = str(config["cgroup_root"])
    for mountpoint, fstype, super_opts in cgroups:
        os.makedirs(mountpoint, exist_ok=True)
        if fstype == "cgroup2":
            _mount("-t", "cgroup2", "cgroup2", mountpoint)
            continue
        _mount(
            "-t",
            "cgroup",
            "-o",
            _cgroup_options(super_opts),
            "cgroup",
            mountpoint,
        )
        os.makedirs(mountpoint + root, exist_ok=True)
    for path in ("/run", "/tmp"):
        _mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", path)
    os.chmod("/tmp", 0o1777)
    binds = dict(config.get("binds", {}))  # type: ignore[call-overload]
    for target, source in binds.items():
        if not os.path.exists(source):
            os.makedirs(source)
        _mount("--bind", source, target)
    for path in config.get("tmpfs", []):  # type: ignore[attr-defined]
        os.makedirs(path, exist_ok=True)
        _mount("-t", "tmpfs", "-o", "mode=700,size=2g", "tmpfs", str(path))
    os.makedirs("/run/containerd", exist_ok=True)
    os.makedirs("/var/lib/kubelet", exist_ok=True)


def main(argv: list[str]) -> int:
    config_path = Path(argv[1])
    config = json.loads(config_path.read_text())
    sock_path = Path(config["socket"])
    sock_path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))  # bound on the host's view of the path
    server.listen(16)
    prepare_machine(config)
    log_dir = Path(config["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    Supervisor(config, log_dir).run(server)
    server.close()
    sock_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
