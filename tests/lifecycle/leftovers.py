"""What `lab down` must leave behind: nothing, whatever the flavor."""

from __future__ import annotations

from pathlib import Path

from gauntlet.lab import cleanup, network, sh
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.topology import BRIDGE


def assert_nothing_left(lab: LabCluster) -> None:
    """No namespace, process, cgroup, mount, link, rule, route or file of
    the lab remains, and the host's own directories are as they were."""
    assert network.lab_netns() == []
    assert cleanup.lab_processes() == []
    assert cleanup.lab_cgroups() == []
    assert cleanup.lab_mounts(lab.paths) == []
    links = sh.run(["ip", "-o", "link", "show"]).stdout
    assert BRIDGE not in links and "kgv-" not in links
    assert network.GUARD_COMMENT not in sh.run(["iptables", "-S"]).stdout
    assert "unreachable 10.25" not in sh.run(["ip", "route"]).stdout
    assert not lab.paths.root.exists()
    for path in ("/var/lib/kubelet", "/var/lib/etcd", "/etc/kubernetes"):
        assert not Path(path).exists() or any(Path(path).iterdir()), path
