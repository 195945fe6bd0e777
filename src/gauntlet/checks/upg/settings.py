"""What ``gauntlet run --profile preupgrade|postupgrade`` passes to the UPG
checks, as ``KUBE_GAUNTLET_*`` variables (docs/config.md).

One place for their names, so the CLI that sets them and the suites that
read them cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import UsageError
from gauntlet.kube_version import KubeVersion, parse_version
from gauntlet.upgrade_steps import UPGRADE_STEPS_ENV

__all__ = [
    "BASELINE_ENV",
    "KEEP_SNAPSHOT_ENV",
    "TARGET_VERSION_ENV",
    "UPGRADE_COMMAND_ENV",
    "UPGRADE_STEPS_ENV",
    "UpgradeSettings",
]

TARGET_VERSION_ENV = "KUBE_GAUNTLET_TARGET_VERSION"
"""The version the cluster is about to be upgraded to (``v1.37.2``)."""
KEEP_SNAPSHOT_ENV = "KUBE_GAUNTLET_KEEP_SNAPSHOT"
"""A directory to keep UPG-03's etcd snapshot in; unset: it is removed."""
BASELINE_ENV = "KUBE_GAUNTLET_BASELINE"
"""postupgrade: the ``baseline.json`` a preupgrade run saved."""
UPGRADE_COMMAND_ENV = "KUBE_GAUNTLET_UPGRADE_COMMAND"
"""UPG-06: the shell command that upgrades the cluster (the rehearsal)."""


@dataclass(frozen=True)
class UpgradeSettings:
    """The run's upgrade parameters, read once from the environment."""

    target: KubeVersion | None
    keep_snapshot: Path | None
    baseline: Path | None
    upgrade_command: str | None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None
    ) -> UpgradeSettings:
        """Raises:
        UsageError: a variable is set to something unusable."""
        env = os.environ if environ is None else environ
        target = env.get(TARGET_VERSION_ENV)
        keep = env.get(KEEP_SNAPSHOT_ENV)
        baseline = env.get(BASELINE_ENV)
        return cls(
            target=parse_version(target, TARGET_VERSION_ENV)
            if target
            else None,
            keep_snapshot=Path(keep) if keep else None,
            baseline=Path(baseline) if baseline else None,
            upgrade_command=env.get(UPGRADE_COMMAND_ENV) or None,
        )

    def require_target(self) -> KubeVersion:
        """Raises:
        UsageError: no target version was given."""
        if self.target is None:
            raise UsageError(
                f"no target version: run with --target-version vX.Y.Z "
                f"(or set {TARGET_VERSION_ENV})"
            )
        return self.target
