"""Run a command in a pod through the API and get its exit code."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client
from kubernetes.stream import stream

from gauntlet.errors import ClusterOperationFailed


@dataclass(frozen=True)
class ExecResult:
    """What a command in a pod printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


def exec_in_pod(
    core: client.CoreV1Api,
    namespace: str,
    pod: str,
    argv: list[str],
    container: str | None = None,
    timeout_s: float = 60.0,
) -> ExecResult:
    """Exec ``argv`` in ``pod`` and wait for it (up to ``timeout_s``)."""
    kwargs = {"container": container} if container else {}
    try:
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            namespace,
            command=argv,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
            **kwargs,
        )
        resp.run_forever(timeout=timeout_s)
        out = resp.read_stdout() or ""
        err = resp.read_stderr() or ""
        rc = resp.returncode
        resp.close()
    except client.ApiException as exc:
        raise ClusterOperationFailed(
            "exec in", f"pod/{pod}", namespace, exc.reason or str(exc.status)
        ) from exc
    return ExecResult(rc if rc is not None else -1, out, err)
