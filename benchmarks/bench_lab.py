"""Benchmark the lab: cold build, warm boot (3+2 and 1+1), memory at rest.

Prints one line per figure. ``--cold`` builds every component into empty
Go and lab caches (slow: it is the fresh-machine figure); without it the
build figure is the warm (cached) one. Run as root:

    .venv/bin/python benchmarks/bench_lab.py [--cold] [--skip-boot]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gauntlet.lab import cleanup
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.paths import LabPaths

TARGETS = {"3+2": 90.0, "1+1": 45.0}
MEMORY_TARGET_GIB = 4.0


def _build_seconds(cold: bool) -> float:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="kg-bench-") as tmp:
        if cold:
            env.update(
                KUBE_GAUNTLET_CACHE=f"{tmp}/cache",
                GOCACHE=f"{tmp}/gocache",
                GOMODCACHE=f"{tmp}/gomod",
            )
        start = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from gauntlet.lab import build; build.ensure_all()",
            ],
            env=env,
            check=True,
        )
        seconds = time.monotonic() - start
        if cold:  # Go marks module files read-only
            subprocess.run(["chmod", "-R", "u+w", tmp], check=False)
    return seconds


def _descendants(roots: list[int]) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += parents.get(pid, [])
    return found


def lab_memory_bytes() -> tuple[int, int]:
    """(RSS, PSS) summed over every lab process and its descendants."""
    rss = pss = 0
    for pid in _descendants(cleanup.lab_processes()):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            key, _, rest = line.partition(":")
            if key == "Rss":
                rss += int(rest.split()[0]) * 1024
            elif key == "Pss":
                pss += int(rest.split()[0]) * 1024
    return rss, pss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--skip-boot", action="store_true")
    parser.add_argument(
        "--rest-s",
        type=float,
        default=60.0,
        help="seconds to let the 3+2 lab settle",
    )
    args = parser.parse_args()
    kind = "cold" if args.cold else "warm"
    print(f"build ({kind}): {_build_seconds(args.cold):.1f} s", flush=True)
    if args.skip_boot:
        return 0
    lab = LabCluster(LabPaths.default())
    ok = True
    for shape in ("1+1", "3+2"):
        cps, workers = (int(x) for x in shape.split("+"))
        lab.down()
        report = lab.up(cps, workers)
        target = TARGETS[shape]
        ok &= report.seconds < target
        print(
            f"warm boot {shape} to all Ready: {report.seconds:.1f} s "
            f"(target < {target:.0f} s)",
            flush=True,
        )
    time.sleep(args.rest_s)
    rss, pss = lab_memory_bytes()
    gib = 1024**3
    ok &= pss / gib < MEMORY_TARGET_GIB
    print(
        f"memory at rest 3+2 after {args.rest_s:.0f} s: "
        f"PSS {pss / gib:.2f} GiB, RSS {rss / gib:.2f} GiB "
        f"(target < {MEMORY_TARGET_GIB:.0f} GiB)",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
