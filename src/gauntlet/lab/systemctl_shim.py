"""``systemctl`` inside a lab node: its supervisor is the node's init system.

A lab node runs its components (containerd, the kubelet, in the
``services`` flavor the control plane) under the lab's supervisor, not
systemd. So that tools meet it as they meet any host (kubeadm restarting
the kubelet, the pod backend stopping a unit, an operator typing
``systemctl status kubelet``), each node gets this ``systemctl`` over the
host's: the units are the supervisor's components. Nothing outside the
lab needs to know the supervisor or its socket.

The script runs with the host's python3 (stdlib only), one per node with
that node's socket written in.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from gauntlet.lab import node_systemctl
from gauntlet.nodes import supervisor_wire

HOST_SYSTEMCTL = Path("/usr/bin/systemctl")
"""Where the shim is bound in the node (every PATH has /usr/bin)."""


def shim_script(socket: Path) -> str:
    """The node's ``systemctl``, talking to the supervisor at ``socket``."""
    wire = inspect.getsource(supervisor_wire).replace(
        'if __name__ == "__main__":\n    sys.exit(main(sys.argv))\n', ""
    )
    script = inspect.getsource(node_systemctl).replace(
        'SOCKET = ""', f"SOCKET = {str(socket)!r}", 1
    )
    return f"#!/usr/bin/python3\n{wire}\n{script}"


def shim_binds(node_root: Path, socket: Path) -> dict[str, str]:
    """Write the node's shim; return the bind (node path -> host path)
    that puts it first: over the host's systemctl, or where there is
    none, as the only file of /usr/local/sbin (first on common PATHs)."""
    bin_dir = node_root / "sbin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "systemctl"
    path.write_text(shim_script(socket))
    path.chmod(0o755)
    if HOST_SYSTEMCTL.exists():
        return {str(HOST_SYSTEMCTL): str(path)}
    return {"/usr/local/sbin": str(bin_dir)}
