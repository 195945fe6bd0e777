"""UPG-03 catches a snapshot that would not bring the cluster back.

The damage is done to the fetched file through the check's ``tamper``
hook, never to the lab: a snapshot cut in half and one with bytes
flipped in the middle must each fail the snapshot's integrity (and the
restore drill is then not attempted). Nothing is left on the nodes
either way, and the untouched snapshot passes afterwards.
"""

from pathlib import Path

import pytest

from gauntlet.checks.upg.etcd_backup import check_etcd_backup_is_real
from gauntlet.errors import GuaranteeViolated

FLIPPED = 64
LEFTOVERS = "ls /var/tmp/kube-gauntlet-*.etcd-snapshot.db* 2>/dev/null || :"


def truncate(path: Path) -> None:
    """Keep the first half of the file (a copy cut short)."""
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def flip_middle(path: Path) -> None:
    """Invert ``FLIPPED`` bytes in the middle (bit rot, a bad disk)."""
    middle = path.stat().st_size // 2
    with path.open("r+b") as f:
        f.seek(middle)
        chunk = f.read(FLIPPED)
        f.seek(middle)
        f.write(bytes(b ^ 0xFF for b in chunk))


@pytest.mark.parametrize(
    ("tamper", "damage"),
    [(truncate, "truncated"), (flip_middle, "corrupted")],
    ids=["truncated", "bytes-flipped"],
)
def test_a_damaged_snapshot_fails_its_integrity(
    old_check, restore, tamper, damage
):
    with pytest.raises(GuaranteeViolated) as caught:
        check_etcd_backup_is_real(old_check, None, tamper)

    message = str(caught.value)
    assert message.startswith("the etcd backup is real: snapshot of etcd "), (
        message
    )
    assert "fails its integrity check: " in message, message
    assert damage in message, message
    drill = [p for p in old_check.parts if p.name == "restore drill"]
    assert [p.status for p in drill] == ["unobserved"], old_check.parts
    assert_no_snapshot_left(old_check)

    restore.close()
    fresh = old_check.fresh()
    check_etcd_backup_is_real(fresh, None)
    assert "etcd restore time" in fresh.measured
    assert_no_snapshot_left(fresh)


def assert_no_snapshot_left(check) -> None:
    """No snapshot file of this project on any control-plane node."""
    for node in check.topology.control_planes:
        proc = check.nodes.run(node.name, ["sh", "-c", LEFTOVERS])
        assert proc.stdout.strip() == "", f"{node.name}: {proc.stdout}"
