"""An offline HTML report from allure results, via the npm ``allure`` CLI.

Allure 3 is a Node tool, so it is installed once into a per-user tool
cache at a pinned version rather than fetched on every run. The report is a
convenience: every failure here is a one-line warning and ``None``, never
an exception that could cost a run its results. Allure's history and the
trend page come from ``html_extras``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gauntlet.project import cache_root
from gauntlet.reporting.html_extras import (
    ALLURE_HISTORY_LIMIT,
    ReportExtras,
    extras_for,
)

__all__ = ["ALLURE_VERSION", "allure_home", "generate_html"]

ALLURE_VERSION = "3.18.0"
"""Pinned exactly: report layout and CLI options change between releases."""

INSTALL_TIMEOUT_S = 600
GENERATE_TIMEOUT_S = 300
_AWESOME = Path("node_modules/@allurereport/plugin-awesome")
_ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/[^"]*">'
    r"</script>\s*<script>\s*window\.dataLayer.*?</script>",
    re.DOTALL,
)


def allure_home() -> Path:
    """Where the pinned allure CLI lives (an npm ``--prefix`` directory)."""
    return cache_root() / "node" / f"allure-{ALLURE_VERSION}"


def generate_html(
    results_dir: Path, out_dir: Path, extras: ReportExtras | None = None
) -> Path | None:
    """Render ``results_dir`` into ``out_dir``; return its ``index.html``.

    Uses the awesome plugin's single-file mode when the installed plugin
    documents it, else a normal directory report. ``extras`` (by default
    those of the run directory holding ``results_dir``) add allure's
    history of the context and the trend page. Returns ``None`` (after
    a one-line warning on stderr) when npm/node are missing, there are no
    results, or installing or generating fails.
    """
    results_dir, out_dir = results_dir.resolve(), out_dir.resolve()
    if extras is None:
        extras = extras_for(results_dir.parent)
    for warning in extras.warnings:
        _warn(warning)
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        _warn("npm/node not found; no HTML report (install Node.js >= 20)")
        return None
    if not any(results_dir.glob("*-result.json")):
        _warn(f"no allure results in {results_dir}; no HTML report")
        return None
    home = allure_home()
    if not _installed(home) and not _install(npm, home):
        return None
    cli = _cli_script(home)
    with tempfile.TemporaryDirectory(prefix="gauntlet-allure-") as tmp:
        config = Path(tmp) / "allurerc.mjs"
        config.write_text(_config(out_dir, _single_file(home), extras), "utf-8")
        _progress(f"generating HTML report in {out_dir}")
        command = [node, str(cli), "generate", str(results_dir)]
        command += ["--config", str(config), "--output", str(out_dir)]
        if not _run("allure generate", command, home, GENERATE_TIMEOUT_S):
            return None
    index = _find_index(out_dir)
    if index is None:
        _warn(f"allure wrote no index.html under {out_dir}")
        return None
    _strip_analytics(index)
    _progress(f"HTML report: {index}")
    return index


def _installed(home: Path) -> bool:
    manifest = home / "node_modules" / "allure" / "package.json"
    try:
        version: object = json.loads(manifest.read_text("utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return version == ALLURE_VERSION


def _install(npm: str, home: Path) -> bool:
    """npm-install into a scratch dir, then rename: never half installed."""
    home.parent.mkdir(parents=True, exist_ok=True)
    _progress(f"installing allure@{ALLURE_VERSION} into {home} (once)")
    scratch = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    command = [npm, "install", "--prefix", str(scratch), "--save-exact"]
    command += ["--no-audit", "--no-fund", f"allure@{ALLURE_VERSION}"]
    ok = _run("npm install", command, scratch, INSTALL_TIMEOUT_S)
    if ok and not _installed(home):
        shutil.rmtree(home, ignore_errors=True)
        try:
            scratch.chmod(0o755)
            scratch.rename(home)
        except OSError as exc:
            _warn(f"installing allure into {home}: {exc}")
            ok = False
    shutil.rmtree(scratch, ignore_errors=True)
    return ok and _installed(home)


def _cli_script(home: Path) -> Path:
    package = home / "node_modules" / "allure"
    manifest = json.loads((package / "package.json").read_text("utf-8"))
    binary = manifest.get("bin", "cli.js")
    if isinstance(binary, dict):
        binary = binary.get("allure", "cli.js")
    return package / str(binary)


def _single_file(home: Path) -> bool:
    """True when the installed awesome plugin documents ``singleFile``."""
    try:
        readme = (home / _AWESOME / "README.md").read_text("utf-8")
    except OSError:
        return False
    return "singleFile" in readme


def _config(out_dir: Path, single_file: bool, extras: ReportExtras) -> str:
    """An allurerc module; JSON is a valid JavaScript object literal."""
    config: dict[str, object] = {
        "name": "kube-gauntlet",
        "output": str(out_dir),
    }
    if extras.allure_history is not None:
        config["historyPath"] = str(extras.allure_history.resolve())
        config["historyLimit"] = ALLURE_HISTORY_LIMIT
    if extras.attachments:
        config["globalAttachments"] = [
            str(p.resolve()) for p in extras.attachments
        ]
    if single_file:
        options = {
            "singleFile": True,
            "reportLanguage": "en",
            "groupBy": ["parentSuite", "suite"],
        }
        config["plugins"] = {"awesome": {"options": options}}
    return f"export default {json.dumps(config, indent=2)};\n"


def _strip_analytics(index: Path) -> None:
    """Drop the Google Analytics tag the awesome template always adds.

    An offline report about someone's cluster must not call home when it
    is opened; only the allure2 plugin honours ALLURE_NO_ANALYTICS.
    """
    html = index.read_text("utf-8")
    cleaned, count = _ANALYTICS.subn("", html)
    if count:
        index.write_text(cleaned, "utf-8")


def _find_index(out_dir: Path) -> Path | None:
    direct = out_dir / "index.html"
    if direct.is_file():
        return direct
    return next(iter(sorted(out_dir.glob("*/index.html"))), None)


def _run(what: str, command: list[str], cwd: Path, timeout_s: int) -> bool:
    """Run a tool quietly; on failure warn with its last output line."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _warn(f"{what} failed: {exc}")
        return False
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        last = output[-1] if output else f"exit code {done.returncode}"
        _warn(f"{what} failed: {last}")
        return False
    return True


def _progress(message: str) -> None:
    print(f"kube-gauntlet: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"kube-gauntlet: warning: {message}", file=sys.stderr)
