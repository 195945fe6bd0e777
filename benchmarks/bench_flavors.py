#!/usr/bin/env python3
"""Boot time and memory at rest of each lab flavor, on this host, one run.

    .venv/bin/python benchmarks/bench_flavors.py [--flavors services,kubeadm]
        [--control-planes 3] [--workers 2] [--settle 30]

For each flavor: `lab down`, then a warm `lab up` (binaries and images
already built: run `gauntlet lab build` and one `lab up` per flavor
first for a fair warm figure), the boot time `up` measures (first image
import to every node Ready and DNS up), then, after a settle time, the
proportional set size (PSS) of every process of the lab: each node's
whole process tree and the load balancer. PSS splits shared pages among
the processes that share them, so five kubelets from one binary count
once. Prints one line per flavor and leaves no lab behind.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gauntlet.lab import cleanup
from gauntlet.lab.cluster import LabCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavors", default="services,kubeadm,managed")
    parser.add_argument("--control-planes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settle", type=float, default=30.0)
    args = parser.parse_args()
    lab = LabCluster()
    rows = []
    try:
        for flavor in args.flavors.split(","):
            lab.down()
            report = lab.up(args.control_planes, args.workers, flavor)
            time.sleep(args.settle)
            pss_mib, count = lab_memory()
            rows.append((flavor, report.seconds, pss_mib, count))
            print(
                f"flavor={flavor} shape={args.control_planes}+{args.workers} "
                f"warm_boot_s={report.seconds:.1f} "
                f"memory_at_rest_mib={pss_mib:.0f} processes={count}",
                flush=True,
            )
    finally:
        lab.down()
    print("\n| flavor | warm boot | memory at rest (PSS) | processes |")
    print("|---|---|---|---|")
    for flavor, seconds, mib, count in rows:
        print(f"| {flavor} | {seconds:.1f} s | {mib:.0f} MiB | {count} |")


def lab_memory() -> tuple[float, int]:
    """(PSS in MiB, process count) of the lab's processes and children."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    members = set(cleanup.lab_processes())
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    total_kib = 0
    for pid in members:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024, len(members)


if __name__ == "__main__":
    main()
