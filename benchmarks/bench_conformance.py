#!/usr/bin/env python3
"""How long a conformance run takes on the lab, cold and warm, one run each.

    .venv/bin/python benchmarks/bench_conformance.py [--mode quick]
        [--procs 2] [--cold]

Boots (or reuses) the 3+2 lab, then times `gauntlet run --profile
conformance --mode MODE --procs N` end to end as a user meets it: with
`--cold` the cached e2e build is removed first, so the first figure
includes building the e2e binary, ginkgo and kubectl (the Go build
cache stays: on a new machine the lab's own build has filled it). Prints
the seconds and the spec counts from the run's summary.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gauntlet.conformance.binary import e2e_build
from gauntlet.lab.cluster import LabCluster
from gauntlet.lab.versions import CURRENT

GAUNTLET = str(Path(sys.executable).with_name("gauntlet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="quick")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    LabCluster().up(control_planes=3, workers=2)
    if args.cold:
        shutil.rmtree(e2e_build(CURRENT.kubernetes).out_dir, ignore_errors=True)
    for label in ("cold" if args.cold else "warm", "warm")[
        : 2 if args.cold else 1
    ]:
        start = time.monotonic()
        proc = subprocess.run(
            [
                GAUNTLET,
                "run",
                "--profile",
                "conformance",
                "--mode",
                args.mode,
                "--procs",
                str(args.procs),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - start
        counts = _counts(proc.stdout)
        print(
            f"mode={args.mode} procs={args.procs} {label}: {took:.0f} s, "
            f"exit {proc.returncode}, {counts}",
            flush=True,
        )


def _counts(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("summary:"):
            summary = json.loads(
                Path(line.split(":", 1)[1].strip()).read_text()
            )
            (entry,) = summary["guarantees"]
            measured = {m["name"]: m["value"] for m in entry["measurements"]}
            return ", ".join(
                f"{k}={measured[k]:.0f}"
                for k in ("specs selected", "specs run", "specs passed")
            )
    return "no summary"


if __name__ == "__main__":
    main()
