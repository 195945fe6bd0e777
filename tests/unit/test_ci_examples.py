"""The CI examples call real flags and publish what runs really write.

Every ``gauntlet ...`` line in examples/ci/ is parsed by the real
argparse parser (built as ``gauntlet.cli.main`` builds it), and every
artifact path is matched against ``RunFiles`` under ``reports_root()``,
so a renamed flag or a moved report breaks this test, not a user's
Monday-morning game day.

Until ``gauntlet run`` has the notification flags (``add_notify_args``
wired into run_cmd), the parser here adds them to ``run`` itself;
``test_gauntlet_run_has_the_notify_flags`` says whether that is needed.
"""

import argparse
import contextlib
import io
import re
import shlex
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

import gauntlet.project
from gauntlet.cli import run_cmd
from gauntlet.cli.main import build_parser
from gauntlet.cli.notify_args import add_notify_args, notify_settings
from gauntlet.cli.pytest_runner import RunFiles
from gauntlet.profiles import get_profile

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"
GITHUB = EXAMPLES / "github-actions.yml"
GITLAB = EXAMPLES / "gitlab-ci.yml"
WORKSPACE = "/ws"
RUN_ID = "20261202T030000Z-abc123"

GITHUB_EXPRESSIONS = {
    "github.workspace": WORKSPACE,
    "github.server_url": "https://github.com",
    "github.repository": "org/clusters",
    "github.run_id": "1234",
    "github.ref": "refs/heads/main",
    "secrets.KUBECONFIG_PROD_EU": "apiVersion: v1",
    "secrets.GAMEDAY_WEBHOOK": "https://hooks.example/services/T0/B0/x",
    "vars.KUBE_GAUNTLET_REPO": "org/kube-gauntlet",
}
"""What the runner fills in; an expression not listed fails the test."""
CI_VARIABLES = {
    "RUNNER_TEMP": "/runner/tmp",
    "CI_PROJECT_DIR": WORKSPACE,
    "CI_JOB_URL": "https://gitlab.example/org/clusters/-/jobs/1",
    "KUBECONFIG_PROD_EU": "/builds/tmp/KUBECONFIG_PROD_EU",
    "GAMEDAY_WEBHOOK": "https://hooks.example/services/T0/B0/x",
}
"""Variables the CI system or the project settings provide."""
_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_SHELL_OPS = {";", "&&", "||", "|", "&", ">", ">>", "<", "(", ")"}


def load(path):
    return yaml.safe_load(path.read_text())


def github_expressions(text):
    def one(match):
        key = match.group(1)
        if key not in GITHUB_EXPRESSIONS:
            pytest.fail(f"{GITHUB.name}: unknown expression ${{{{ {key} }}}}")
        return GITHUB_EXPRESSIONS[key]

    return _EXPR.sub(one, text)


def expand(text, env, where):
    """Shell-expand $VAR and ${VAR}; an unknown variable is a typo."""

    def one(match):
        name = match.group(1) or match.group(2)
        if name in env:
            return env[name]
        if name in CI_VARIABLES:
            return CI_VARIABLES[name]
        pytest.fail(f"{where}: ${name} is defined nowhere")

    return _VAR.sub(one, text)


def gauntlet_commands(script, env, where):
    """argv after ``gauntlet`` for every line of a shell script that runs it."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        for i, word in enumerate(words):
            if Path(word).name != "gauntlet":
                continue
            argv = []
            for arg in words[i + 1 :]:
                if arg in _SHELL_OPS:
                    break
                argv.append(expand(arg, env, where))
            commands.append((where, argv))
    return commands


def github_jobs():
    workflow = load(GITHUB)
    top = {k: github_expressions(str(v)) for k, v in workflow["env"].items()}
    for name, job in workflow["jobs"].items():
        env = {**top, **job.get("env", {})}
        yield name, job, env


def github_commands():
    found = []
    for name, job, env in github_jobs():
        for step in job["steps"]:
            if "run" not in step:
                continue
            step_env = {
                k: github_expressions(str(v))
                for k, v in step.get("env", {}).items()
            }
            script = github_expressions(step["run"])
            where = f"{GITHUB.name} {name}: {step.get('name', 'run')}"
            found += gauntlet_commands(script, {**env, **step_env}, where)
    return found


def gitlab_jobs():
    pipeline = load(GITLAB)
    env = {
        k: expand(str(v), {}, GITLAB.name)
        for k, v in pipeline["variables"].items()
    }
    for name, job in pipeline.items():
        if not isinstance(job, dict) or name == "variables":
            continue
        base = pipeline.get(job.get("extends", ""), {})
        yield name, {**base, **job}, env


def gitlab_commands():
    found = []
    for name, job, env in gitlab_jobs():
        if name.startswith("."):
            continue
        for key in ("before_script", "script", "after_script"):
            for entry in job.get(key, []):
                where = f"{GITLAB.name} {name}.{key}"
                found += gauntlet_commands(entry, env, where)
    return found


@pytest.fixture
def parser():
    """``gauntlet``'s own parser; ``run`` gets the notify flags here only
    while run_cmd does not add them itself."""
    original = run_cmd.add_parser

    def add_parser(sub):
        original(sub)
        if not run_has_notify_flags(sub.choices["run"]):
            add_notify_args(sub.choices["run"])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_cmd, "add_parser", add_parser)
        yield build_parser()


def run_has_notify_flags(run_parser):
    known, _ = run_parser.parse_known_args(
        ["--profile", "gate", "--notify-webhook", "https://h/"]
    )
    return "notify_webhook" in vars(known)


def parse(parser, where, argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return parser.parse_args(argv)
        except SystemExit:
            pytest.fail(
                f"{where}: gauntlet {shlex.join(argv)}: {err.getvalue()}"
            )


COMMANDS = github_commands() + gitlab_commands()


def test_both_examples_run_gauntlet():
    runs = [argv[:3] for _, argv in COMMANDS if argv[:1] == ["run"]]
    assert ["run", "--profile", "gate"] in runs
    assert ["run", "--profile", "gameday"] in runs
    assert {where.split()[0] for where, _ in COMMANDS} == {
        GITHUB.name,
        GITLAB.name,
    }


@pytest.mark.parametrize(
    ("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS]
)
def test_every_command_parses_with_the_real_cli(parser, where, argv):
    args = parse(parser, where, argv)
    if args.command != "run":
        return
    profile = get_profile(args.profile)
    assert args.kubeconfig and args.context, (
        f"{where}: without --kubeconfig and --context gauntlet boots its lab"
    )
    if profile.destructive:
        assert args.allow_destructive == args.context, (
            f"{where}: the opt-in must name the target context"
        )
    else:
        assert args.allow_destructive is None, where
    if args.notify_webhook or args.notify_header:
        notify_settings(args)


def test_the_game_days_notify(parser):
    gamedays = [
        parse(parser, where, argv)
        for where, argv in COMMANDS
        if argv[:3] == ["run", "--profile", "gameday"]
    ]
    assert len(gamedays) == 2
    for args in gamedays:
        settings = notify_settings(args)
        assert settings is not None and settings.report_url


def test_the_game_days_publish_a_screenshot_of_the_report(parser, monkeypatch):
    gamedays = [
        parse(parser, where, argv)
        for where, argv in COMMANDS
        if argv[:3] == ["run", "--profile", "gameday"]
    ]
    assert [args.screenshot for args in gamedays] == [True, True]
    github = {n: (j, e) for n, j, e in github_jobs()}
    job, env = github["gameday"]
    files = run_files(monkeypatch, Path(env["KUBE_GAUNTLET_PROJECT"]))
    upload = next(s for s in job["steps"] if "upload-artifact" in str(s))
    assert covers(upload["with"]["path"].split(), files.screenshot)
    gitlab = {n: (j, e) for n, j, e in gitlab_jobs()}
    job, env = gitlab["gameday"]
    files = run_files(monkeypatch, Path(env["KUBE_GAUNTLET_PROJECT"]))
    assert covers(job["artifacts"]["paths"], files.screenshot)
    assert "chromium" in job["variables"]["EXTRA_DEBS"].split()
    assert any("$EXTRA_DEBS" in line for line in job["before_script"])


def test_a_flag_the_cli_lacks_fails_the_check(parser):
    with pytest.raises(pytest.fail.Exception, match="unrecognized"):
        parse(parser, "here", ["run", "--profile", "gate", "--notify-me"])


def test_gauntlet_run_has_the_notify_flags():
    """Skips until the coordinator wires add_notify_args into run_cmd."""
    sub = argparse.ArgumentParser().add_subparsers()
    run_cmd.add_parser(sub)
    if not run_has_notify_flags(sub.choices["run"]):
        pytest.skip("run_cmd does not call add_notify_args yet")


def run_files(monkeypatch, project):
    """Where a run writes, with the example's KUBE_GAUNTLET_PROJECT."""
    monkeypatch.setattr(gauntlet.project, "project_root", lambda: project)
    return RunFiles(gauntlet.project.reports_root() / RUN_ID)


def covers(patterns, path):
    """A pattern names the file, or a directory above it."""
    return any(
        fnmatch(str(candidate), f"{WORKSPACE}/{p.rstrip('/')}")
        for p in patterns
        for candidate in (path, *path.parents)
    )


def published(files):
    return {
        "junit.xml": files.junit,
        "summary.json": files.summary,
        "the HTML report": files.html / "index.html",
    }


def test_github_jobs_publish_junit_and_the_html_report(monkeypatch):
    jobs = list(github_jobs())
    assert {name for name, _, _ in jobs} == {"gate", "gameday"}
    for name, job, env in jobs:
        files = run_files(monkeypatch, Path(env["KUBE_GAUNTLET_PROJECT"]))
        uploads = [
            s
            for s in job["steps"]
            if s.get("uses", "").startswith("actions/upload-artifact@")
        ]
        assert len(uploads) == 1, name
        assert uploads[0]["if"] == "always()", f"{name}: publish on failure"
        patterns = uploads[0]["with"]["path"].split()
        for what, path in published(files).items():
            assert covers(patterns, path), f"{name} does not publish {what}"


def test_gitlab_jobs_publish_junit_and_the_html_report(monkeypatch):
    jobs = {n: (j, e) for n, j, e in gitlab_jobs() if not n.startswith(".")}
    assert set(jobs) == {"gate", "gameday"}
    for name, (job, env) in jobs.items():
        files = run_files(monkeypatch, Path(env["KUBE_GAUNTLET_PROJECT"]))
        artifacts = job["artifacts"]
        assert artifacts["when"] == "always", f"{name}: publish on failure"
        assert covers([artifacts["reports"]["junit"]], files.junit), name
        for what, path in published(files).items():
            assert covers(artifacts["paths"], path), (
                f"{name} does not publish {what}"
            )


def test_the_game_day_runs_on_a_schedule_and_the_gate_on_changes():
    workflow = load(GITHUB)
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["schedule"][0]["cron"]
    assert triggers["push"]["paths"] == ["clusters/**"]
    jobs = workflow["jobs"]
    assert "schedule" in jobs["gameday"]["if"]
    assert "schedule" not in jobs["gate"]["if"]
    assert jobs["gameday"]["concurrency"]["cancel-in-progress"] is False

    pipeline = load(GITLAB)
    schedule = '$CI_PIPELINE_SOURCE == "schedule"'
    assert pipeline["gameday"]["rules"] == [{"if": schedule}]
    assert pipeline["gate"]["rules"][0] == {"if": schedule, "when": "never"}
    assert pipeline["gate"]["rules"][1]["changes"] == ["clusters/**/*"]
    assert pipeline["gameday"]["interruptible"] is False
