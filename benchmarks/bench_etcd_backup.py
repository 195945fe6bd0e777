#!/usr/bin/env python3
"""How long UPG-03's etcd backup and restore drill take on the lab.

    .venv/bin/python benchmarks/bench_etcd_backup.py [--runs 3]

Uses the lab that is up (never boots one: `gauntlet lab up` first) and
runs the UPG-03 check itself with lab node access, ``--runs`` times.
Prints per run the snapshot's size, the backup time (save on the node
plus fetch to the runner), the restore time (etcdutl restore plus the
scratch member's start until healthy) and the keys compared, then the
medians. The etcd build is the lab's own (cached): no build is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gauntlet.checks.context import CheckContext, Images
from gauntlet.checks.upg.etcd_backup import check_etcd_backup_is_real
from gauntlet.cluster.client import ClusterTarget, connect
from gauntlet.cluster.discovery import discover
from gauntlet.errors import GauntletError
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.wellknown import LAB_NAME

FIGURES = (
    ("etcd snapshot size", "MiB", 2),
    ("etcd backup time", "s", 2),
    ("etcd restore time", "s", 2),
    ("etcd keys compared", "keys", 0),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lab = LabCluster()
    if not lab.healthy():
        sys.exit("no healthy lab is up: run `gauntlet lab up` first")
    cluster = connect(ClusterTarget(lab.paths.kubeconfig, LAB_NAME))
    ctx = CheckContext(
        cluster=cluster,
        topology=discover(cluster),
        namespace="default",
        images=Images.from_env(),
        nodes=LabNodeAccess(lab),
    )
    seen: dict[str, list[float]] = {name: [] for name, _, _ in FIGURES}
    for run in range(1, args.runs + 1):
        ctx = ctx.fresh()
        start = time.monotonic()
        try:
            check_etcd_backup_is_real(ctx, None, say=lambda _line: None)
        except (AssertionError, GauntletError) as exc:
            sys.exit(f"run {run}: {exc}")
        took = time.monotonic() - start
        line = ", ".join(
            f"{name} {ctx.measured[name]:.{digits}f} {unit}"
            for name, unit, digits in FIGURES
        )
        print(f"run {run}: {line}; whole check {took:.1f} s", flush=True)
        for name, _, _ in FIGURES:
            seen[name].append(ctx.measured[name])
    medians = ", ".join(
        f"{name} {statistics.median(seen[name]):.{digits}f} {unit}"
        for name, unit, digits in FIGURES
    )
    print(f"median of {args.runs}: {medians}")
    cluster.close()


if __name__ == "__main__":
    main()
