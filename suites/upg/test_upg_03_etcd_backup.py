"""UPG-03: the etcd backup is real."""

import pytest

from gauntlet.checks.upg.etcd_backup import check_etcd_backup_is_real

pytestmark = [pytest.mark.profile("preupgrade")]


@pytest.mark.guarantee("UPG-03")
@pytest.mark.readonly
@pytest.mark.timeout(1800)  # a first run builds the member's etcd release
def test_etcd_snapshot_restores_to_the_live_keyspace(
    check, upgrade_settings, say_now
):
    """Guarantee: an etcd snapshot taken before the upgrade MUST pass its
    integrity check and restore into a scratch member that starts and
    holds the live cluster's keys, revisions and values at the
    snapshot's revision."""
    check_etcd_backup_is_real(
        check, upgrade_settings.keep_snapshot, say=say_now
    )
