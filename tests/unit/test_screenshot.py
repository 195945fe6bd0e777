"""Screenshots of the HTML report: the browser found, its command line,
every failure a clear line, and one real headless Chromium run.

The fake browsers here are shell scripts standing in for a local
program; the last test runs Debian's chromium (scripts/setup.sh
installs it). Where it is missing that test skips, which CI
(``CI=true``, tests/conftest.py) turns into a failure.
"""

import os
import stat
from pathlib import Path

import pytest

from gauntlet.cli.main import main
from gauntlet.errors import ToolFailed, UsageError
from gauntlet.reporting import screenshot
from gauntlet.reporting.screenshot import (
    BROWSER_ENV,
    find_browser,
    screenshot_command,
    take_screenshot,
    try_screenshot,
)

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
RUN = "20261202T030000Z-abc123"


def program(directory: Path, name: str, body: str) -> Path:
    """An executable shell script ``name`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def writes_png(directory: Path, name: str = "chromium") -> Path:
    """A fake browser that writes a PNG where --screenshot= says."""
    source = directory / "one.png"
    directory.mkdir(parents=True, exist_ok=True)
    source.write_bytes(PNG_1X1)
    return program(
        directory,
        name,
        'for a; do case "$a" in --screenshot=*) '
        f'cp {source} "${{a#--screenshot=}}";; esac; done',
    )


@pytest.fixture
def index(tmp_path):
    page = tmp_path / "html" / "index.html"
    page.parent.mkdir()
    page.write_text("<!doctype html><title>report</title><p>ok</p>")
    return page


def test_the_first_browser_on_path_is_taken(tmp_path):
    bin_dir = tmp_path / "bin"
    program(bin_dir, "google-chrome", "exit 0")
    assert find_browser({"PATH": str(bin_dir)}) == str(
        bin_dir / "google-chrome"
    )
    program(bin_dir, "chromium", "exit 0")
    assert find_browser({"PATH": str(bin_dir)}) == str(bin_dir / "chromium")


def test_no_browser_is_none(tmp_path):
    assert find_browser({"PATH": str(tmp_path)}) is None


def test_the_variable_names_the_browser(tmp_path):
    chrome = program(tmp_path / "opt", "my-chrome", "exit 0")
    environ = {"PATH": str(tmp_path), BROWSER_ENV: str(chrome)}
    assert find_browser(environ) == str(chrome)


def test_a_variable_naming_no_program_is_a_usage_error(tmp_path):
    environ = {"PATH": str(tmp_path), BROWSER_ENV: "no-such-browser"}
    with pytest.raises(UsageError, match=f"{BROWSER_ENV}='no-such-browser'"):
        find_browser(environ)


def test_the_command_line_is_headless_offline_and_url_last(tmp_path):
    png, profile = tmp_path / "r.png", tmp_path / "profile"
    url = "file:///r/html/index.html#abc"
    command = screenshot_command(
        "/usr/bin/chromium", url, png, profile, as_root=False
    )
    assert command[0] == "/usr/bin/chromium" and command[-1] == url
    assert "--headless" in command
    assert f"--screenshot={png}" in command
    assert f"--user-data-dir={profile}" in command
    assert "--host-resolver-rules=MAP * ~NOTFOUND" in command
    assert any(a.startswith("--virtual-time-budget=") for a in command)
    assert any(a.startswith("--window-size=") for a in command)
    assert "--no-sandbox" not in command
    as_root = screenshot_command(
        "/usr/bin/chromium", url, png, profile, as_root=True
    )
    assert "--no-sandbox" in as_root and as_root[-1] == url


def test_without_a_browser_the_screenshot_is_a_usage_error(
    index, tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(BROWSER_ENV, raising=False)
    with pytest.raises(UsageError, match="no headless browser"):
        take_screenshot(index, tmp_path / "r.png")


def test_a_run_only_warns_when_no_screenshot_can_be_taken(
    index, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(BROWSER_ENV, raising=False)
    assert try_screenshot(index, tmp_path / "r.png") is None
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "kube-gauntlet: warning: no screenshot of the report: no headless "
        "browser"
    )
    assert not (tmp_path / "r.png").exists()


def test_a_missing_page_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no HTML report at"):
        take_screenshot(tmp_path / "index.html", tmp_path / "r.png")


def test_the_png_is_written_whole_under_its_name(index, tmp_path):
    browser = writes_png(tmp_path / "bin")
    png = tmp_path / "run" / "report.png"
    assert take_screenshot(index, png, browser=str(browser)) == png
    assert png.read_bytes() == PNG_1X1
    assert sorted(p.name for p in png.parent.iterdir()) == ["report.png"]


def test_a_failing_browser_says_its_last_line(index, tmp_path):
    browser = program(tmp_path, "chromium", "echo starting; echo boom; exit 3")
    with pytest.raises(ToolFailed, match="chromium exited with 3: boom"):
        take_screenshot(index, tmp_path / "r.png", browser=str(browser))
    assert list(tmp_path.glob("*.png")) == []


def test_a_browser_that_writes_no_png_fails(index, tmp_path):
    browser = program(
        tmp_path,
        "chromium",
        'for a; do case "$a" in --screenshot=*) '
        'echo "<html>" > "${a#--screenshot=}";; esac; done',
    )
    with pytest.raises(ToolFailed, match="not a PNG"):
        take_screenshot(index, tmp_path / "r.png", browser=str(browser))
    assert list(tmp_path.glob("*.png")) == []
    silent = program(tmp_path, "quiet", "exit 0")
    with pytest.raises(ToolFailed, match="wrote no screenshot"):
        take_screenshot(index, tmp_path / "r.png", browser=str(silent))


def test_a_hung_browser_is_killed_at_the_timeout(index, tmp_path):
    browser = program(tmp_path, "chromium", "sleep 60 & sleep 60")
    with pytest.raises(ToolFailed, match="took more than 0.5s"):
        take_screenshot(
            index, tmp_path / "r.png", browser=str(browser), timeout_s=0.5
        )


@pytest.fixture
def reports(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "suites").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    monkeypatch.setenv("KUBE_GAUNTLET_PROJECT", str(project))
    return project / "reports"


def report_cli(capsys, *args):
    code = main(["report", "screenshot", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_screenshot_of_an_unknown_run_is_one_line(reports, capsys):
    (reports / RUN / "html").mkdir(parents=True)
    code, out, err = report_cli(capsys, "nope")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"gauntlet: error: no run 'nope' under {reports} (a run id, a "
        "unique prefix, 'latest' or a run directory)"
    ]


def test_report_screenshot_of_a_run_without_html_is_one_line(reports, capsys):
    (reports / RUN).mkdir(parents=True)
    code, _, err = report_cli(capsys, RUN[:10])
    assert code == 2
    assert err.startswith(f"gauntlet: error: run {RUN} has no HTML report")
    assert len(err.strip().splitlines()) == 1


def test_report_screenshot_saves_report_png_in_the_run(
    reports, tmp_path, monkeypatch, capsys
):
    html = reports / RUN / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("<p>ok</p>")
    monkeypatch.setenv(BROWSER_ENV, str(writes_png(tmp_path / "bin")))
    code, out, err = report_cli(capsys, "--run", RUN)
    assert (code, err) == (0, "")
    assert out.strip() == str(reports / RUN / "report.png")
    assert (reports / RUN / "report.png").read_bytes() == PNG_1X1


def test_chromium_takes_a_png_of_a_page_its_script_draws(tmp_path):
    """A real headless Chromium: the page draws itself 300 ms after it
    loads, so the picture also proves scripts get time to render."""
    browser = find_browser(os.environ)
    if browser is None:
        pytest.skip("no chromium on PATH: run scripts/setup.sh")
    page = tmp_path / "html" / "index.html"
    page.parent.mkdir()
    page.write_text(
        "<!doctype html><body style='margin:0;background:#fff'>"
        "<script>setTimeout(() => { const d = document.createElement("
        "'div'); d.style.cssText = 'width:400px;height:300px;"
        "background:rgb(255,0,0)'; document.body.appendChild(d); }, 300);"
        "</script></body>"
    )
    png = take_screenshot(page, tmp_path / "report.png", browser=browser)
    from PIL import Image

    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == screenshot.WINDOW
        rgb = image.convert("RGB")
        assert rgb.getpixel((100, 100)) == (255, 0, 0)
        assert rgb.getpixel((900, 900)) == (255, 255, 255)


@pytest.fixture
def made_report(tmp_path, monkeypatch):
    """``gauntlet run``'s files, with allure's report already made."""
    from gauntlet.cli.pytest_runner import RunFiles
    from gauntlet.reporting import html

    files = RunFiles(tmp_path / RUN)
    index = files.html / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<p>ok</p>")
    monkeypatch.setattr(html, "generate_html", lambda results, out: index)
    return files


def test_run_saves_the_screenshot_after_the_report(
    made_report, tmp_path, monkeypatch, capsys
):
    from gauntlet.cli import run_cmd

    monkeypatch.setenv(BROWSER_ENV, str(writes_png(tmp_path / "bin")))
    run_cmd._report(made_report, screenshot=True)
    out = capsys.readouterr().out
    assert f"screenshot: {made_report.screenshot}" in out.splitlines()
    assert made_report.screenshot.read_bytes() == PNG_1X1


def test_a_run_without_a_browser_keeps_its_report(
    made_report, tmp_path, monkeypatch, capsys
):
    from gauntlet.cli import run_cmd

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(BROWSER_ENV, raising=False)
    run_cmd._report(made_report, screenshot=True)
    out, err = capsys.readouterr()
    assert f"report: {made_report.html / 'index.html'}" in out.splitlines()
    assert "screenshot:" not in out
    assert "warning: no screenshot of the report: no headless browser" in err
    assert not made_report.screenshot.exists()
