"""Run the Locust user against an API server and collect its stats."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from gauntlet import progress
from gauntlet.errors import UsageError
from gauntlet.load.slo import EndpointStats, parse_stats

USERS = Path(__file__).with_name("users.py")


@dataclass(frozen=True)
class LoadResult:
    """What a Locust run measured."""

    stats: list[EndpointStats]
    server_errors: int
    seconds: float

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.stats)


def _credentials(
    kubeconfig: Path, context: str | None, tmp: Path
) -> tuple[str, dict[str, str]]:
    """Server URL and the KG_LOAD_* variables for the kubeconfig's user."""
    try:
        cfg = yaml.safe_load(kubeconfig.read_text())
        ctx_name = context or cfg["current-context"]
        ctx = next(
            c["context"] for c in cfg["contexts"] if c["name"] == ctx_name
        )
        cluster = next(
            c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"]
        )
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    except (OSError, KeyError, StopIteration, TypeError, yaml.YAMLError) as exc:
        raise UsageError(
            f"kubeconfig {kubeconfig} unusable for load: {exc}"
        ) from exc
    env: dict[str, str] = {}
    for key, var in (("certificate-authority", "KG_LOAD_CA"),):
        _material(cluster, key, tmp, var, env)
    _material(user, "client-certificate", tmp, "KG_LOAD_CERT", env)
    _material(user, "client-key", tmp, "KG_LOAD_KEY", env)
    if user.get("token"):
        env["KG_LOAD_TOKEN"] = str(user["token"])
    return str(cluster["server"]), env


def _material(
    section: dict[str, str], key: str, tmp: Path, var: str, env: dict[str, str]
) -> None:
    if section.get(f"{key}-data"):
        path = tmp / var.lower()
        path.write_bytes(base64.b64decode(section[f"{key}-data"]))
        path.chmod(0o600)
        env[var] = str(path)
    elif section.get(key):
        env[var] = section[key]


def run_load(
    kubeconfig: Path,
    context: str | None,
    namespace: str,
    users: int = 10,
    spawn_rate: float = 5.0,
    seconds: int = 30,
) -> LoadResult:
    """Drive the API for ``seconds`` with ``users`` Locust users."""
    with tempfile.TemporaryDirectory(prefix="kg-load-") as name:
        tmp = Path(name)
        server, env = _credentials(kubeconfig, context, tmp)
        env.update(
            KG_LOAD_NAMESPACE=namespace, KG_LOAD_5XX_FILE=str(tmp / "5xx")
        )
        stats_file = tmp / "stats.json"
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(USERS),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(spawn_rate),
            "-t",
            f"{seconds}s",
            "--host",
            server,
            "--json-file",
            str(stats_file.with_suffix("")),
            "--stop-timeout",
            "5",
        ]
        with progress.step(f"Load: {users} users for {seconds}s on {server}"):
            proc = subprocess.run(
                argv,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
        if not stats_file.exists():
            raise UsageError(
                "locust produced no stats: "
                + (proc.stderr or proc.stdout)[-400:]
            )
        rows = json.loads(stats_file.read_text())
        errors_file = tmp / "5xx"
        server_errors = (
            int(errors_file.read_text() or 0) if (errors_file.exists()) else 0
        )
    return LoadResult(parse_stats(rows), server_errors, float(seconds))
