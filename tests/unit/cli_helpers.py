"""Run the installed ``gauntlet`` script the way a user or CI does.

Shared by the CLI unit tests so they run it with one environment and
judge its usage errors by one rule; none of them needs a cluster.
"""

import subprocess
import sys
from pathlib import Path

from gauntlet.exit_codes import EXIT_USAGE

GAUNTLET = Path(sys.executable).parent / "gauntlet"
PROJECT = Path(__file__).resolve().parents[2]

UNREACHABLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: me
  user: {token: abc}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: me}
current-context: nowhere
"""
"""Context ``nowhere``: a server nothing listens on."""


def write_kubeconfig(directory: Path) -> Path:
    """``directory/kubeconfig`` holding ``UNREACHABLE_KUBECONFIG``."""
    path = directory / "kubeconfig"
    path.write_text(UNREACHABLE_KUBECONFIG)
    return path


def gauntlet(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``gauntlet ARGS`` with a clean environment and state in tmp_path."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KUBE_GAUNTLET_STATE": str(tmp_path / "state"),
        "KUBE_GAUNTLET_PROJECT": str(PROJECT),
    }
    return subprocess.run(
        [str(GAUNTLET), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def assert_one_line_error(
    done: subprocess.CompletedProcess[str],
    *fragments: str,
    prefix: str = "gauntlet: error: ",
) -> None:
    """Exit 2 with one stderr line, starting ``prefix``, no traceback."""
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(prefix)
    for fragment in fragments:
        assert fragment in lines[0]
