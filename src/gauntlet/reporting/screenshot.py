"""A PNG of a run's HTML report, taken with a headless Chromium.

CI keeps the picture beside the report, so the result of a game day can
be seen in an artifact list or a chat message without opening the
report. Debian's ``chromium`` (installed by scripts/setup.sh) is found
on PATH, as are Google Chrome and Ubuntu's ``chromium-browser``;
``$KUBE_GAUNTLET_BROWSER`` names another. The page is loaded from a
``file://`` URL with every host name unresolvable: the report is
offline and must stay so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from gauntlet.errors import GauntletError, ToolFailed, UsageError

__all__ = [
    "BROWSER_ENV",
    "BROWSERS",
    "SCREENSHOT_TIMEOUT_S",
    "find_browser",
    "screenshot_command",
    "take_screenshot",
    "try_screenshot",
]

BROWSER_ENV = "KUBE_GAUNTLET_BROWSER"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""Looked up on PATH in this order."""
SCREENSHOT_TIMEOUT_S = 90
RENDER_BUDGET_MS = 15_000
"""Virtual time the page's scripts get to render before the picture;
virtual time runs faster than the clock while the page is idle."""
WINDOW = (1280, 1600)
"""Width and height in CSS pixels: wide enough for allure's layout,
tall enough for the overview with its groups folded."""
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def find_browser(environ: Mapping[str, str] | None = None) -> str | None:
    """The browser to run: ``$KUBE_GAUNTLET_BROWSER`` if set, else the
    first of ``BROWSERS`` on PATH; ``None`` when there is none.

    Raises:
        UsageError: the variable names no executable program.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get(BROWSER_ENV, "").strip()
    if chosen:
        found = shutil.which(chosen, path=environ.get("PATH"))
        if found is None:
            raise UsageError(
                f"{BROWSER_ENV}={chosen!r} is not an executable program: "
                "name a Chromium or Chrome binary, or unset it"
            )
        return found
    for name in BROWSERS:
        found = shutil.which(name, path=environ.get("PATH"))
        if found is not None:
            return found
    return None


def screenshot_command(
    browser: str, url: str, png: Path, profile_dir: Path, *, as_root: bool
) -> list[str]:
    """The headless command line that writes ``png`` of ``url``.

    ``as_root`` adds ``--no-sandbox``: Chromium refuses to start as root
    with its sandbox, which CI containers usually are.
    """
    width, height = WINDOW
    command = [
        browser,
        "--headless",
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--mute-audio",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={RENDER_BUDGET_MS}",
        f"--screenshot={png}",
    ]
    if as_root:
        command.append("--no-sandbox")
    return [*command, url]


def take_screenshot(
    index: Path,
    png: Path,
    *,
    fragment: str = "",
    browser: str | None = None,
    timeout_s: float = SCREENSHOT_TIMEOUT_S,
) -> Path:
    """Write a PNG of ``index`` (an HTML file) to ``png``; return ``png``.

    ``fragment`` picks a page of a single-page report (allure's test
    result id). The PNG appears whole or not at all: it is written
    under a temporary name and renamed.

    Raises:
        UsageError: no browser is installed, or ``index`` is missing.
        ToolFailed: the browser failed, timed out or wrote no PNG.
    """
    if not index.is_file():
        raise UsageError(f"no HTML report at {index}")
    browser = browser or find_browser()
    if browser is None:
        raise UsageError(
            f"no headless browser ({', '.join(BROWSERS)}) on PATH: install "
            f"Debian's chromium (scripts/setup.sh) or set {BROWSER_ENV}"
        )
    url = index.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gauntlet-browser-") as profile:
        partial = png.with_name(f".{png.stem}.partial.png")
        command = screenshot_command(
            browser,
            url,
            partial,
            Path(profile),
            as_root=os.geteuid() == 0,
        )
        try:
            _run(command, timeout_s)
            _check_png(partial)
            partial.replace(png)
        finally:
            partial.unlink(missing_ok=True)
    return png


def try_screenshot(index: Path, png: Path) -> Path | None:
    """``take_screenshot`` for a run that must not lose its results to
    it: a failure is one warning line on stderr and ``None``."""
    start = time.monotonic()
    try:
        taken = take_screenshot(index, png)
    except GauntletError as exc:
        print(
            f"kube-gauntlet: warning: no screenshot of the report: {exc}",
            file=sys.stderr,
        )
        return None
    print(
        f"kube-gauntlet: screenshot {taken} ({time.monotonic() - start:.1f}s)",
        file=sys.stderr,
    )
    return taken


def _run(command: list[str], timeout_s: float) -> None:
    """Run the browser in its own process group, so that a timeout ends
    its renderer and GPU processes too."""
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolFailed(f"starting {command[0]}: {exc}") from exc
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ToolFailed(
            f"{Path(command[0]).name} took more than {timeout_s:g}s"
        ) from exc
    if proc.returncode != 0:
        lines = output.strip().splitlines()
        last = lines[-1] if lines else "no output"
        raise ToolFailed(
            f"{Path(command[0]).name} exited with {proc.returncode}: {last}"
        )


def _check_png(path: Path) -> None:
    try:
        with path.open("rb") as file:
            head = file.read(len(_PNG_MAGIC))
    except FileNotFoundError as exc:
        raise ToolFailed("the browser wrote no screenshot") from exc
    if head != _PNG_MAGIC:
        raise ToolFailed(f"the browser wrote {path.name}, but not a PNG")
