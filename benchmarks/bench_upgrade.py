"""Benchmark the upgrade rehearsal on the lab: previous release to current.

Boots (or reuses) a 3+2 lab at ``PREVIOUS``, then either upgrades it with
``gauntlet lab upgrade`` alone, or (``--rehearsal``) runs the preupgrade
profile with ``--rehearse``, as CI does, and prints UPG-06's measurements
beside the wall time. Leaves the lab at ``CURRENT``. Run as root:

    .venv/bin/python benchmarks/bench_upgrade.py [--rehearsal]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.upgrade import upgrade_lab
from gauntlet.lab.versions import CURRENT, PREVIOUS

BOUND_S = 600.0
"""The issue's bound for the rehearsal on 3+2."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rehearsal", action="store_true")
    args = parser.parse_args()
    lab = LabCluster(release=PREVIOUS)
    boot = lab.up(3, 2)
    print(f"boot {PREVIOUS.kubernetes} 3+2: {boot.seconds:.1f}s")
    if args.rehearsal:
        return _rehearsal()
    start = time.monotonic()
    steps = upgrade_lab(lab, CURRENT)
    total = time.monotonic() - start
    per_kind: dict[str, float] = defaultdict(float)
    for step in steps:
        per_kind[step.step] += step.seconds
    for kind, seconds in sorted(per_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<24} {seconds:6.1f}s")
    print(
        f"lab upgrade {PREVIOUS.kubernetes} -> {CURRENT.kubernetes}: "
        f"{total:.1f}s, {len(steps)} steps (bound {BOUND_S:.0f}s)"
    )
    return 0


def _rehearsal() -> int:
    gauntlet = str(Path(sys.executable).with_name("gauntlet"))
    start = time.monotonic()
    done = subprocess.run(
        [
            gauntlet,
            "run",
            "--profile",
            "preupgrade",
            "--target-version",
            CURRENT.kubernetes,
            "--rehearse",
            "--allow-destructive",
            "kube-gauntlet-lab",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - start
    summary = next(
        ln.split(":", 1)[1].strip()
        for ln in done.stdout.splitlines()
        if ln.startswith("summary:")
    )
    for entry in json.loads(Path(summary).read_text())["guarantees"]:
        print(f"{entry['guarantee']}: {entry['verdict']}")
        if entry["guarantee"] in ("UPG-03", "UPG-06"):
            for m in entry["measurements"]:
                print(f"    {m['name']}: {m['value']:.2f} {m['unit']}")
    print(
        f"preupgrade with the rehearsal: {wall:.1f}s (exit {done.returncode})"
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
