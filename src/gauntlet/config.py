"""The cluster profile file: ``gauntlet run --config gauntlet.yaml``.

What a cluster is expected to be (HA or dev), the bounds it is judged
against, the images it runs and how its nodes are reached, in one
reviewed file instead of a dozen environment variables. The CLI reads
and checks the file before anything reaches the cluster, then hands
each value to the run as the environment variable the code reads; a
variable already set in the environment wins, so a one-off override
needs no edit of the file. docs/config.md documents every key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from gauntlet import __version__
from gauntlet.errors import UsageError

__all__ = [
    "env_count",
    "INTERNAL_ENV",
    "SETTINGS",
    "Setting",
    "load_profile",
    "parse_profile",
    "profile_environment",
]

LOAD_SCENARIOS = (
    "default",
    "read-heavy",
    "write-heavy",
    "list-storm",
    "get-and-list",
)
"""The keys of ``gauntlet.load.scenarios.SCENARIOS`` (a lower floor cannot
import it; a unit test keeps the two equal)."""

Kind = Literal["text", "count", "number", "choice"]


@dataclass(frozen=True)
class Setting:
    """One key of the file and the environment variable it feeds."""

    key: str
    """``section.name`` as written in the file."""
    env: str
    kind: Kind
    default: str
    """As documented; the code that reads ``env`` owns the value."""
    meaning: str
    choices: tuple[str, ...] = ()
    maximum: float | None = None
    zero: bool = False
    """0 is a valid value (a count of optional extras)."""


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "topology.ha",
        "KUBE_GAUNTLET_HA_PROFILE",
        "choice",
        "production",
        "expected control plane: production (HA, fewer than 3 "
        "control-plane nodes fails ARCH-11) or dev (a warning only)",
        choices=("production", "dev"),
    ),
    Setting(
        "topology.kube_proxy",
        "KUBE_GAUNTLET_KUBE_PROXY",
        "text",
        "kube-proxy",
        "the per-node Service proxy ARCH-03 expects on every node",
    ),
    Setting(
        "thresholds.etcd_fsync_p99_ms",
        "KUBE_GAUNTLET_ETCD_FSYNC_P99_MS",
        "number",
        "10",
        "ARCH-13: bound on each etcd member's WAL fsync p99, ms",
    ),
    Setting(
        "thresholds.etcd_commit_p99_ms",
        "KUBE_GAUNTLET_ETCD_COMMIT_P99_MS",
        "number",
        "25",
        "ARCH-13: bound on each etcd member's backend commit p99, ms",
    ),
    Setting(
        "thresholds.etcd_db_quota_pct",
        "KUBE_GAUNTLET_ETCD_DB_QUOTA_PCT",
        "number",
        "80",
        "ARCH-13: bound on each etcd database's size, % of its quota",
        maximum=100,
    ),
    Setting(
        "thresholds.pod_startup_p99_s",
        "KUBE_GAUNTLET_STARTUP_SLO_P99_S",
        "number",
        "5",
        "ARCH-06: bound on pod startup latency p99 (the upstream SLO), s",
    ),
    Setting(
        "observation.etcd_window_s",
        "KUBE_GAUNTLET_OBSERVE_S",
        "number",
        "20",
        "ARCH-13: seconds between the two scrapes of each etcd member",
    ),
    Setting(
        "observation.startup_pods",
        "KUBE_GAUNTLET_STARTUP_PODS",
        "count",
        "10",
        "ARCH-06: pods started to measure startup latency",
    ),
    Setting(
        "observation.path_nodes",
        "KUBE_GAUNTLET_PATH_NODES",
        "count",
        "16",
        "ARCH-09, ARCH-16: nodes the data path is tried from; above it an "
        "evenly spread sample, the rest named as unobserved",
    ),
    Setting(
        "images.workload",
        "KUBE_GAUNTLET_IMAGE_WORKLOAD",
        "text",
        "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
        "image of test pods: the e2e agnhost (netexec serves; sh, nc, "
        "kill, sleep for clients); must be on the nodes or pullable",
    ),
    Setting(
        "images.node_helper",
        "KUBE_GAUNTLET_NODE_IMAGE",
        "text",
        "registry.k8s.io/e2e-test-images/busybox:1.37.0-2",
        "image of the privileged helper pods of --node-access pod "
        "(sh, sleep, nsenter)",
    ),
    Setting(
        "images.runner",
        "KUBE_GAUNTLET_RUNNER_IMAGE",
        "text",
        f"localhost/kube-gauntlet/runner:{__version__}",
        "image of in-cluster Locust workers and scheduled runs (Python, "
        "gauntlet, its dependencies and suites); built by the project, "
        "under the mirror when one is set",
    ),
    Setting(
        "images.repo",
        "KUBE_GAUNTLET_IMAGE_REPO",
        "text",
        "registry.k8s.io",
        "mirror for every registry.k8s.io test image (registry.k8s.io/"
        "<path>:<tag> is pulled as <repo>/<path>:<tag>); --image-repo wins",
    ),
    Setting(
        "node_access.kind",
        "KUBE_GAUNTLET_NODE_ACCESS",
        "choice",
        "lab on the lab, else pod",
        "how checks reach hosts; --node-access wins over both",
        choices=("lab", "pod"),
    ),
    Setting(
        "node_access.max_outage_s",
        "KUBE_GAUNTLET_POD_MAX_OUTAGE_S",
        "number",
        "600",
        "--node-access pod: a node undoes a fault that cut its own exec "
        "path after this many seconds, even if the runner died",
    ),
    Setting(
        "load.users",
        "KUBE_GAUNTLET_LOAD_USERS",
        "count",
        "10",
        "LOAD-01: concurrent Locust users",
    ),
    Setting(
        "load.seconds",
        "KUBE_GAUNTLET_LOAD_SECONDS",
        "count",
        "30",
        "LOAD-01: seconds of load",
    ),
    Setting(
        "load.scenario",
        "KUBE_GAUNTLET_LOAD_SCENARIO",
        "choice",
        "default",
        "LOAD-01: the request mix (gauntlet/load/scenarios.py); "
        "--scenario wins",
        choices=LOAD_SCENARIOS,
    ),
    Setting(
        "load.rate",
        "KUBE_GAUNTLET_LOAD_RATE",
        "number",
        "50",
        "LOAD-01: target requests per second of all users together "
        "(fixed rate); --load-rate wins",
    ),
    Setting(
        "load.workers",
        "KUBE_GAUNTLET_LOAD_WORKERS",
        "count",
        "0",
        "load checks: Locust worker processes besides the master (0: one "
        "process); --load-workers wins",
        zero=True,
    ),
)

INTERNAL_ENV: Mapping[str, str] = {
    "KUBE_GAUNTLET_KUBECONFIG": "the target: set by gauntlet run from "
    "--kubeconfig/--context/--lab",
    "KUBE_GAUNTLET_CONTEXT": "the target: set by gauntlet run",
    "KUBE_GAUNTLET_IN_CLUSTER": "the target: set inside a pod",
    "KUBE_GAUNTLET_LAB": "the target is the lab: set by gauntlet run",
    "KUBE_GAUNTLET_RUN_ID": "one run's id: made by gauntlet run",
    "KUBE_GAUNTLET_CONFORMANCE_MODE": "the conformance mode: set by gauntlet "
    "run from --mode, which also decides whether the run needs the "
    "destructive opt-in (certified)",
    "KUBE_GAUNTLET_CONFORMANCE_PROCS": "ginkgo processes: set by gauntlet "
    "run from --procs",
    "KUBE_GAUNTLET_CONFORMANCE_NO_PULL": "the cluster pulls nothing: set by "
    "gauntlet run from --no-pull, or for the lab",
    "KUBE_GAUNTLET_CONFORMANCE_SKIP": "specs set aside with the reason: set "
    "by gauntlet run from --skip-spec, and for the lab",
    "KUBE_GAUNTLET_TARGET_VERSION": "the upgrade's target: set by gauntlet "
    "run from --target-version, after checking it against the cluster",
    "KUBE_GAUNTLET_KEEP_SNAPSHOT": "where UPG-03 keeps its etcd snapshot: "
    "set by gauntlet run from --keep-snapshot, for one run",
    "KUBE_GAUNTLET_BASELINE": "the baseline a postupgrade run compares "
    "with: set by gauntlet run from --baseline, for one run",
    "KUBE_GAUNTLET_UPGRADE_COMMAND": "the command UPG-06 rehearses: set by "
    "gauntlet run from --upgrade-command (or the lab's upgrade) only with "
    "--rehearse and the destructive opt-in",
    "KUBE_GAUNTLET_UPGRADE_STEPS_FILE": "where the upgrade command writes "
    "its steps: set by the UPG-06 check for the command it runs",
    "KUBE_GAUNTLET_ALLOW_DESTRUCTIVE": "the destructive opt-in: only "
    "--allow-destructive, after its checks, may set it",
    "KUBE_GAUNTLET_PROJECT": "where the checkout is: needed to find this "
    "file's run at all",
    "KUBE_GAUNTLET_CACHE": "the build cache: shared by every command, "
    "not one cluster's",
    "KUBE_GAUNTLET_STATE": "where fault ledgers live: gauntlet recover "
    "must find them without a profile file",
    "KUBE_GAUNTLET_BROWSER": "the browser that takes report screenshots: "
    "a program of the machine running gauntlet, not of the cluster",
}
"""Variables the code reads that a cluster profile must not set, and why."""

_BY_KEY = {s.key: s for s in SETTINGS}
_SECTIONS = sorted({s.key.split(".")[0] for s in SETTINGS})


def env_count(name: str, default: int) -> int:
    """A positive whole number from the environment variable ``name``
    (``default`` when unset or empty).

    Raises:
        UsageError: the variable is not a positive whole number.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{name}={raw!r}: not a positive number")
    return int(raw)


def load_profile(path: Path) -> dict[str, str]:
    """The profile file at ``path`` as ``{variable: value}``.

    Raises:
        UsageError: the file is missing, not YAML, or has an unknown key
            or a value of the wrong type (the message names it).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"config file {path} does not exist") from exc
    except OSError as exc:
        raise UsageError(f"config file {path}: {exc.strerror}") from exc
    return parse_profile(text, str(path))


def parse_profile(text: str, source: str) -> dict[str, str]:
    """Check the YAML ``text`` against ``SETTINGS``; ``{variable: value}``.

    Raises:
        UsageError: ``source: key: what is wrong``.
    """
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UsageError(f"{source}: not valid YAML: {first}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a mapping of sections")
    values: dict[str, str] = {}
    for section, body in data.items():
        if section not in _SECTIONS:
            raise UsageError(
                f"{source}: unknown key {section!r} (sections: "
                f"{', '.join(_SECTIONS)})"
            )
        if not isinstance(body, dict):
            raise UsageError(f"{source}: {section}: expected a mapping")
        for name, value in body.items():
            key = f"{section}.{name}"
            setting = _BY_KEY.get(key)
            if setting is None:
                known = [k for k in _BY_KEY if k.startswith(f"{section}.")]
                raise UsageError(
                    f"{source}: unknown key {key!r} (known: {', '.join(known)})"
                )
            values[setting.env] = _checked(setting, value, source)
    return values


def profile_environment(
    values: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, str]:
    """The file's values the environment does not already set."""
    return {k: v for k, v in values.items() if not environ.get(k)}


def _checked(setting: Setting, value: object, source: str) -> str:
    where = f"{source}: {setting.key}"
    if setting.kind == "choice":
        if value not in setting.choices:
            raise UsageError(
                f"{where}: expected one of {', '.join(setting.choices)}, "
                f"got {value!r}"
            )
        return str(value)
    if setting.kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where}: expected a number, got {value!r}")
    if setting.kind == "count" and not isinstance(value, int):
        raise UsageError(f"{where}: expected a whole number, got {value!r}")
    if value < 0 or (value == 0 and not setting.zero):
        raise UsageError(f"{where}: expected more than 0, got {value!r}")
    if setting.maximum is not None and value > setting.maximum:
        raise UsageError(
            f"{where}: expected at most {setting.maximum:g}, got {value!r}"
        )
    return str(value)
