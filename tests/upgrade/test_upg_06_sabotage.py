"""UPG-06 catches an upgrade that takes the API down and upgrades nothing.

The "upgrade" stops every API server of the old lab for longer than the
write-gap bound, then starts them again on the same release: the check
must name the gap in writes through the front door and every API server
still at the old version. Runs before the rehearsal (by file name), on
the old lab, which it leaves as it found it.
"""

from __future__ import annotations

import shlex
import sys

import pytest

from gauntlet.checks.upg.rehearsal import (
    WRITE_MAX_GAP_S,
    check_upgrade_rehearsal,
)
from gauntlet.errors import GuaranteeViolated
from gauntlet.kube_version import parse_version
from gauntlet.lab.versions import CURRENT, PREVIOUS

BLACKOUT_S = WRITE_MAX_GAP_S + 10
BLACKOUT = f"""
import time
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
lab = LabCluster()
nodes = LabNodeAccess(lab)
masters = [n.name for n in lab.topology().control_planes]
for name in masters:
    nodes.stop(name, "kube-apiserver", now=True)
try:
    time.sleep({BLACKOUT_S})
finally:
    for name in masters:
        nodes.start(name, "kube-apiserver")
"""


@pytest.mark.disruptive
def test_an_upgrade_that_blacks_out_the_api_and_upgrades_nothing_is_reported(
    old_check, tmp_path
):
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(BLACKOUT)}"
    with pytest.raises(GuaranteeViolated) as caught:
        check_upgrade_rehearsal(
            old_check,
            command,
            parse_version(CURRENT.kubernetes),
            tmp_path,
            lambda _line: None,
        )
    message = str(caught.value)
    assert "no write through the front door succeeded for" in message, message
    assert f"runs {PREVIOUS.kubernetes}, not {CURRENT.kubernetes}" in message
