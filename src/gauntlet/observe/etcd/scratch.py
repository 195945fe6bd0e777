"""A scratch etcd member restored from a snapshot, on the runner.

``etcdutl snapshot status`` reads a snapshot's hash, revision and keys;
``ScratchEtcd`` restores it into a temporary data directory, starts
``etcd`` on 127.0.0.1 only (free ports, plain HTTP: nothing leaves the
runner) and serves etcdctl against it until the ``with`` block ends,
when the member is stopped and its data removed, also on an exception
or Ctrl-C. The binaries are the release the cluster's member runs,
built once from the published modules (``gobuild.etcd``).

A snapshot holds every Secret of the cluster: the data directory is
the process's own (0700) and never outlives the block.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from gauntlet.children import wait_or_kill
from gauntlet.errors import (
    BuildError,
    ClusterOperationFailed,
    GauntletError,
    Unobservable,
    UsageError,
)
from gauntlet.gobuild.build import ensure_built
from gauntlet.gobuild.etcd import etcd_build

__all__ = [
    "RESTORE_TIMEOUT_S",
    "START_TIMEOUT_S",
    "ScratchEtcd",
    "SnapshotStatus",
    "SnapshotUnusable",
    "etcd_tools",
    "parse_status",
    "snapshot_status",
]

RESTORE_TIMEOUT_S = 600.0
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0
POLL_INTERVAL_S = 0.2
CTL_TIMEOUT_S = 60.0
PORT_ATTEMPTS = 3
NAME = "kg-scratch"


class SnapshotUnusable(GauntletError):
    """etcdutl could not read or restore the snapshot, or the restored
    member did not start: the backup would not bring the cluster back."""


@dataclass(frozen=True)
class SnapshotStatus:
    """``etcdutl snapshot status`` of one file."""

    hash: int
    """CRC-32C over every bucket's keys and values."""
    revision: int
    """The newest revision in the snapshot."""
    total_keys: int
    """Keys alive at that revision (all prefixes)."""
    total_size: int
    """The bolt database's size in bytes."""
    storage_version: str


def parse_status(text: str) -> SnapshotStatus:
    """etcdutl's ``snapshot status -w json`` output.

    Raises:
        ValueError: not such output.
    """
    data: Any = json.loads(text)
    if not isinstance(data, dict) or "revision" not in data:
        raise ValueError(f"not a snapshot status: {text.strip()[:200]!r}")
    return SnapshotStatus(
        hash=int(data["hash"]),
        revision=int(data["revision"]),
        total_keys=int(data.get("totalKey", 0)),
        total_size=int(data.get("totalSize", 0)),
        storage_version=str(data.get("version") or ""),
    )


def etcd_tools(version: str) -> Path:
    """The directory with etcd, etcdctl and etcdutl of ``version`` (the
    version a member reports, ``3.7.3``), built on first use.

    Raises:
        Unobservable: they cannot be built, naming the version and why.
    """
    try:
        return ensure_built(etcd_build(version))
    except (BuildError, UsageError) as exc:
        raise Unobservable(
            f"no etcd {version} binaries for the restore drill on the "
            f"runner: {exc}"
        ) from exc


def snapshot_status(tools: Path, snapshot: Path) -> SnapshotStatus:
    """Read a snapshot's status with etcdutl.

    Raises:
        SnapshotUnusable: etcdutl cannot read it (with its message).
    """
    proc = _tool(
        tools, "etcdutl", ["snapshot", "status", str(snapshot), "-w", "json"]
    )
    if proc.returncode != 0:
        raise SnapshotUnusable(
            f"etcdutl snapshot status failed: {_tail(proc.stderr)}"
        )
    try:
        return parse_status(proc.stdout)
    except (ValueError, KeyError) as exc:
        raise SnapshotUnusable(
            f"etcdutl snapshot status gave no status: {exc}"
        ) from exc


class ScratchEtcd:
    """One etcd member restored from ``snapshot``, on loopback only.

    Use as a context manager: entering restores and starts it (and
    measures both), leaving stops it and removes its data.
    """

    def __init__(self, tools: Path, snapshot: Path) -> None:
        self.tools = tools
        self.snapshot = snapshot
        self.restore_s = 0.0
        """etcdutl snapshot restore's duration."""
        self.start_s = 0.0
        """From etcd's start until it answered healthy."""
        self.endpoint = ""
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def where(self) -> str:
        return f"scratch etcd at {self.endpoint or 'nowhere'}"

    def __enter__(self) -> ScratchEtcd:
        try:
            self._dir = Path(tempfile.mkdtemp(prefix="kg-scratch-etcd-"))
            for attempt in range(PORT_ATTEMPTS):
                if self._restore_and_start(last=attempt + 1 == PORT_ATTEMPTS):
                    return self
        except BaseException:
            self._stop()
            raise
        raise AssertionError("unreachable")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """``etcdctl -w json ARGS`` against the scratch member."""
        return _tool(
            self.tools,
            "etcdctl",
            [
                f"--endpoints={self.endpoint}",
                "--dial-timeout=2s",
                f"--command-timeout={CTL_TIMEOUT_S:.0f}s",
                "-w",
                "json",
                *args,
            ],
            timeout_s=CTL_TIMEOUT_S + 10,
        )

    def json(self, *args: str) -> Any:
        """Parsed output of ``run``.

        Raises:
            ClusterOperationFailed: etcdctl failed or gave no JSON.
        """
        proc = self.run(args)
        try:
            if proc.returncode == 0:
                return json.loads(proc.stdout)
        except ValueError:
            pass
        raise ClusterOperationFailed(
            f"etcdctl {' '.join(args)}", self.where, None, _tail(proc.stderr)
        )

    # -- lifecycle ------------------------------------------------------

    def _restore_and_start(self, last: bool) -> bool:
        """One attempt on fresh ports; False when a port was taken
        meanwhile (and ``last`` is not set)."""
        assert self._dir is not None
        data = self._dir / "data"
        shutil.rmtree(data, ignore_errors=True)
        client, peer = _free_ports(2)
        peer_url = f"http://127.0.0.1:{peer}"
        self.endpoint = f"http://127.0.0.1:{client}"
        cluster = f"{NAME}={peer_url}"
        began = time.monotonic()
        proc = _tool(
            self.tools,
            "etcdutl",
            [
                "snapshot",
                "restore",
                str(self.snapshot),
                f"--data-dir={data}",
                f"--name={NAME}",
                f"--initial-cluster={cluster}",
                f"--initial-advertise-peer-urls={peer_url}",
            ],
            timeout_s=RESTORE_TIMEOUT_S,
        )
        if proc.returncode != 0:
            raise SnapshotUnusable(
                f"etcdutl snapshot restore failed: {_tail(proc.stderr)}"
            )
        self.restore_s = time.monotonic() - began
        log = self._dir / "etcd.log"
        began = time.monotonic()
        with log.open("wb") as out:
            self._proc = subprocess.Popen(
                [
                    str(self.tools / "etcd"),
                    f"--name={NAME}",
                    f"--data-dir={data}",
                    f"--listen-client-urls={self.endpoint}",
                    f"--advertise-client-urls={self.endpoint}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster={cluster}",
                    "--log-level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        problem = self._wait_healthy(log)
        if not problem:
            self.start_s = time.monotonic() - began
            return True
        self._halt()
        if "address already in use" in problem and not last:
            return False
        raise SnapshotUnusable(f"the restored etcd did not start: {problem}")

    def _wait_healthy(self, log: Path) -> str:
        """'' once /health answers true, else what went wrong."""
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return (
                    f"exited {self._proc.returncode}: "
                    f"{_tail(log.read_text(errors='replace'))}"
                )
            if _healthy(self.endpoint):
                return ""
            time.sleep(POLL_INTERVAL_S)
        return (
            f"not healthy within {START_TIMEOUT_S:.0f}s: "
            f"{_tail(log.read_text(errors='replace'))}"
        )

    def _halt(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            wait_or_kill(proc, STOP_GRACE_S)

    def _stop(self) -> None:
        try:
            self._halt()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=1) as r:
            return bool(json.loads(r.read()).get("health") == "true")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (held together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tool(
    tools: Path, name: str, args: Sequence[str], timeout_s: float = 120.0
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(tools / name), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterOperationFailed(
            f"{name} {' '.join(args[:2])}",
            "a snapshot on the runner",
            None,
            f"no answer within {timeout_s:.0f}s",
        ) from exc


def _tail(text: str) -> str:
    """The last meaningful line (etcd's JSON log: its message and error)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    panics = [line for line in lines if line.startswith(("panic:", "fatal"))]
    if panics:  # a Go crash: its first line says why, the stack does not
        return panics[0].strip()[:300]
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            return line.strip()[:300]
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            msg = str(entry.get("msg", ""))
            err = str(entry.get("error", ""))
            return f"{msg}: {err}"[:300] if err else msg[:300]
    return lines[-1].strip()[:300] if lines else "no output"
