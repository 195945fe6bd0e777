"""Read a kubeconfig without contacting the cluster.

The kubernetes client reports a bad kubeconfig with messages that name
neither the file nor the fix; this module checks the file first so that
every problem becomes one ``UsageError`` line saying what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gauntlet.errors import UsageError

__all__ = ["KubeconfigInfo", "default_kubeconfig", "read_kubeconfig"]


@dataclass(frozen=True)
class KubeconfigInfo:
    """The parts of a kubeconfig a run needs before it connects."""

    path: Path
    context: str
    """The context in use: ``--context`` or the file's current-context."""
    cluster: str
    """The cluster entry that context names."""
    server: str
    """The API server URL of that cluster."""
    contexts: tuple[str, ...]
    """Every context defined in the file, in file order."""


def default_kubeconfig() -> Path:
    """``$KUBECONFIG`` (its first existing entry) or ``~/.kube/config``."""
    variable = os.environ.get("KUBECONFIG", "")
    listed = [p for p in variable.split(os.pathsep) if p]
    for entry in listed:
        if Path(entry).expanduser().exists():
            return Path(entry).expanduser()
    if listed:
        return Path(listed[0]).expanduser()
    return Path.home() / ".kube" / "config"


def read_kubeconfig(path: Path, context: str | None) -> KubeconfigInfo:
    """Parse and check ``path``; resolve ``context`` to a cluster.

    Raises:
        UsageError: the file is missing or malformed, or has no such
            context.
    """
    if not path.is_file():
        raise UsageError(
            f"kubeconfig {path} does not exist: pass --kubeconfig or set "
            "KUBECONFIG, or use --lab for the built-in lab cluster"
        )
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _malformed(path, _yaml_reason(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _malformed(path, f"cannot read it ({exc})") from exc
    if not isinstance(data, dict):
        raise _malformed(path, "not a YAML mapping")
    clusters = _named(path, data, "clusters", "cluster")
    contexts = _named(path, data, "contexts", "context")
    if not clusters:
        raise _malformed(path, "it defines no clusters")
    if not contexts:
        raise _malformed(path, "it defines no contexts")
    name = context or data.get("current-context")
    if not name:
        raise UsageError(
            f"kubeconfig {path} has no current-context: pass --context "
            f"(contexts: {', '.join(contexts)})"
        )
    if name not in contexts:
        raise UsageError(
            f"kubeconfig {path} has no context {name!r}: pass --context "
            f"with one of {', '.join(contexts)}"
        )
    cluster = contexts[name].get("cluster")
    if not isinstance(cluster, str) or cluster not in clusters:
        raise _malformed(
            path, f"context {name!r} names an undefined cluster {cluster!r}"
        )
    server = clusters[cluster].get("server")
    if not isinstance(server, str) or not server:
        raise _malformed(path, f"cluster {cluster!r} has no server URL")
    return KubeconfigInfo(path, name, cluster, server, tuple(contexts))


def _named(
    path: Path, data: dict[str, Any], key: str, inner: str
) -> dict[str, dict[str, Any]]:
    """``clusters``/``contexts`` as name -> body, checking their shape."""
    entries = data.get(key)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise _malformed(path, f"{key!r} is not a list")
    named: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(
            entry.get("name"), str
        ):
            raise _malformed(path, f"an entry of {key!r} has no name")
        body = entry.get(inner)
        if not isinstance(body, dict):
            raise _malformed(
                path, f"{key[:-1]} {entry['name']!r} has no {inner!r} mapping"
            )
        named[entry["name"]] = body
    return named


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}: {problem}"
    return f"invalid YAML: {problem}"


def _malformed(path: Path, reason: str) -> UsageError:
    return UsageError(f"kubeconfig {path} is malformed: {reason}")
