"""--notify-webhook: the summary POSTed to a real HTTP server on 127.0.0.1.

The server runs in a thread on a random port and answers from a script
of status codes, so retries, failures and the payload are what a real
webhook would see.
"""

import argparse
import http.server
import json
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, gauntlet

from gauntlet.cli.notify_args import add_notify_args, notify_settings
from gauntlet.errors import UsageError
from gauntlet.exit_codes import EXIT_OK, EXIT_USAGE, EXIT_VIOLATED
from gauntlet.reporting.measurements import Measurement
from gauntlet.reporting.notify import (
    NotificationFailed,
    NotifySettings,
    check_http_url,
    notify_run,
    post_json,
    redact_url,
)
from gauntlet.reporting.notify_payload import build_payload, report_links
from gauntlet.reporting.summary import (
    GuaranteeResult,
    RunSummary,
    write_summary,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Webhook:
    """A local webhook: answers ``statuses`` in turn, then 200."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def json(self, index=-1):
        return json.loads(self.received[index].body)


@pytest.fixture
def webhook():
    state = Webhook(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            state.received.append(
                Received(self.path, dict(self.headers), self.rfile.read(length))
            )
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"try later")

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/run"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def dead_url():
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://user:s3cret@127.0.0.1:{port}/hook?token=abc123"


def settings(url, **kwargs):
    return NotifySettings(url=url, backoff_s=0.01, timeout_s=5, **kwargs)


def measurement(name, value, bound=None):
    return Measurement(
        name=name,
        value=value,
        unit="s",
        start="2026-12-02T03:00:01.000Z",
        end="2026-12-02T03:00:41.000Z",
        duration_s=40.0,
        bound=bound,
        guarantee="RES-01",
    )


def run_dir(tmp_path):
    """A run directory as `gauntlet run` leaves it: one fail, one pass."""
    root = tmp_path / "reports" / "20261202T030000Z-abc123"
    summary = RunSummary(
        run_id=root.name,
        context="prod-eu",
        profile="gameday",
        started="2026-12-02T03:00:00.000Z",
        ended="2026-12-02T03:20:00.000Z",
        results=(
            GuaranteeResult(
                "RES-01",
                "fail",
                ("suites/res/test_res_01.py::test_x",),
                (measurement("seconds to NotReady", 52.0, bound=40.0),),
                "node worker-1 NotReady after 52 s (limit 40 s)",
            ),
            GuaranteeResult("ARCH-01", "pass", ("suites/a.py::t",), (), ""),
        ),
    )
    write_summary(summary, root / "summary.json")
    (root / "junit.xml").write_text("<testsuites/>")
    (root / "html").mkdir()
    (root / "html" / "index.html").write_text("<html></html>")
    return root


def test_the_summary_is_posted_as_json_with_its_verdict_table(
    webhook, tmp_path, capsys
):
    root = run_dir(tmp_path)
    notify_run(
        settings(webhook.url, report_url="https://ci.example/run/7"),
        root,
        EXIT_VIOLATED,
        profile="gameday",
        context="prod-eu",
    )
    assert len(webhook.received) == 1
    got = webhook.received[0]
    assert got.path == "/hooks/run"
    assert got.headers["Content-Type"] == "application/json"
    body = webhook.json()
    assert body["run_id"] == root.name
    assert (body["profile"], body["context"]) == ("gameday", "prod-eu")
    assert body["started"] == "2026-12-02T03:00:00.000Z"
    assert body["ended"] == "2026-12-02T03:20:00.000Z"
    assert body["exit_code"] == EXIT_VIOLATED
    assert body["exit_meaning"] == "a guarantee was violated"
    assert body["totals"] == {"pass": 1, "fail": 1, "skip": 0, "error": 0}
    res01 = body["guarantees"][0]
    assert res01["id"] == "RES-01"
    assert res01["verdict"] == "fail"
    assert res01["title"]  # the catalogue's claim
    assert "NotReady after 52 s" in res01["message"]
    assert res01["measurements"][0]["value"] == 52.0
    assert res01["measurements"][0]["bound"] == 40.0
    assert body["report"] == {
        "dir": str(root.resolve()),
        "summary": str(root.resolve() / "summary.json"),
        "junit": str(root.resolve() / "junit.xml"),
        "html": str(root.resolve() / "html" / "index.html"),
        "url": "https://ci.example/run/7",
    }
    assert body["summary_error"] is None
    assert "notified http://127.0.0.1" in capsys.readouterr().err


def test_the_text_field_reads_as_a_slack_message(webhook, tmp_path):
    notify_run(
        settings(webhook.url),
        run_dir(tmp_path),
        EXIT_VIOLATED,
        profile="gameday",
        context="prod-eu",
    )
    text = webhook.json()["text"]
    lines = text.splitlines()
    assert lines[0].startswith("*kube-gauntlet gameday on prod-eu: FAILED*")
    assert "exit 1: a guarantee was violated" in lines[0]
    assert "1 pass, 1 fail, 0 skip, 0 error" in lines[1]
    assert any(
        line.startswith("• *RES-01* FAIL") and "52 s" in line for line in lines
    )
    assert "ARCH-01" not in text  # passes are counted, not listed
    assert lines[-1].startswith("report: ") and "index.html" in lines[-1]


def test_headers_are_sent_as_given(webhook, tmp_path):
    args = parse(
        "--notify-webhook",
        webhook.url,
        "--notify-header",
        "Authorization: Bearer t0ken",
        "--notify-header",
        "X-Team:  sre ",
    )
    notify_run(
        notify_settings(args),
        run_dir(tmp_path),
        EXIT_OK,
        profile="gameday",
        context="prod-eu",
    )
    headers = webhook.received[0].headers
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["X-Team"] == "sre"
    assert headers["User-Agent"].startswith("kube-gauntlet/")


def test_a_500_is_retried_until_the_webhook_accepts(webhook, tmp_path, capsys):
    webhook.statuses = [500, 503]
    notify_run(
        settings(webhook.url),
        run_dir(tmp_path),
        EXIT_OK,
        profile="gameday",
        context="prod-eu",
    )
    assert len(webhook.received) == 3
    assert webhook.json(0) == webhook.json(2)
    err = capsys.readouterr().err
    assert "(3 attempts)" in err and "warning" not in err


def test_retries_wait_longer_each_time(webhook):
    webhook.statuses = [500, 500, 500]
    waits = []
    with pytest.raises(NotificationFailed, match="HTTP 500.*after 3 attempts"):
        post_json(settings(webhook.url), {"text": "x"}, sleep=waits.append)
    assert waits == [0.01, 0.02]


def test_a_client_error_is_not_retried(webhook):
    webhook.statuses = [404]
    with pytest.raises(NotificationFailed, match="HTTP 404"):
        post_json(settings(webhook.url), {"text": "x"})
    assert len(webhook.received) == 1


def test_a_dead_port_is_a_warning_and_the_run_goes_on(tmp_path, capsys):
    url = dead_url()
    notify_run(
        settings(url),
        run_dir(tmp_path),
        EXIT_VIOLATED,
        profile="gameday",
        context="prod-eu",
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("gauntlet: warning: notification to http://")
    assert "cannot connect" in err[0] and "after 3 attempts" in err[0]
    assert "exit code is unchanged" in err[0]
    assert "s3cret" not in err[0] and "abc123" not in err[0]


def test_a_run_without_summary_still_notifies_and_says_why(webhook, tmp_path):
    root = tmp_path / "reports" / "20261202T030000Z-fff000"
    root.mkdir(parents=True)
    notify_run(
        settings(webhook.url),
        root,
        EXIT_USAGE,
        profile="gate",
        context="prod-eu",
    )
    body = webhook.json()
    assert body["run_id"] == root.name
    assert body["guarantees"] == []
    assert "ended before writing its verdicts" in body["summary_error"]
    assert body["report"]["summary"] is None
    assert "NO VERDICT" in body["text"]


def test_a_real_summary_json_makes_a_payload(tmp_path):
    """summary.json as the plugin writes it, from a run of this checkout
    when there is one, else the one built here."""
    runs = sorted(Path(__file__).parents[2].glob("reports/*/summary.json"))
    source = runs[-1] if runs else run_dir(tmp_path) / "summary.json"
    root = tmp_path / "copy"
    root.mkdir()
    shutil.copy(source, root / "summary.json")
    data = json.loads(source.read_text())
    payload = build_payload(
        RunSummary.from_dict(data),
        exit_code=EXIT_OK,
        profile="x",
        context="y",
        report=report_links(root, None),
        titles={},
    )
    assert payload["run_id"] == data["run_id"]
    assert [g["id"] for g in payload["guarantees"]] == [
        g["guarantee"] for g in data["guarantees"]
    ]
    json.dumps(payload)


@pytest.mark.parametrize(
    ("url", "shown", "hidden"),
    [
        (
            "https://bot:p4ss@hooks.example/x",
            "https://***@hooks.example/x",
            "p4ss",
        ),
        (
            "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/T0000/B0000/***",
            "XXXX",
        ),
        (
            "https://h.example/notify?token=abc&room=sre#frag",
            "https://h.example/notify?token=***&room=***",
            "abc",
        ),
        (
            "http://h.example:8080/kube-gauntlet-notifications",
            "http://h.example:8080/kube-gauntlet-notifications",
            "***",
        ),
    ],
)
def test_urls_are_printed_without_their_credentials(url, shown, hidden):
    assert redact_url(url) == shown
    assert hidden not in redact_url(url)


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_notify_args(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--notify-webhook", "ftp://h/x"), "only http:// and https://"),
        (("--notify-webhook", "hooks.example/x"), "only http:// and https://"),
        (("--notify-webhook", "https:///x"), "has no host"),
        (("--notify-webhook", "https://h:99999/x"), "not a URL"),
        (("--notify-webhook", ""), "is empty"),
        (("--notify-webhook", "https://h/a b"), "no spaces"),
        (
            ("--notify-webhook", "https://h/x", "--notify-header", "tok"),
            "'Name: value'",
        ),
        (
            ("--notify-webhook", "https://h/x", "--notify-header", "A B: v"),
            "not a valid header name",
        ),
        (
            ("--notify-webhook", "https://h/", "--notify-header", "Host: h"),
            "set by the HTTP client",
        ),
        (("--notify-header", "Authorization: x"), "need --notify-webhook"),
        (
            ("--notify-webhook", "https://h/", "--notify-report-url", "x"),
            "--notify-report-url",
        ),
    ],
)
def test_bad_notification_flags_are_refused(argv, fragment):
    with pytest.raises(UsageError) as caught:
        notify_settings(parse(*argv))
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_refusals_never_echo_a_secret():
    for argv in (
        ("--notify-webhook", "ftp://u:s3cret@h/x"),
        ("--notify-webhook", "https://h/x", "--notify-header", "s3cret"),
        ("--notify-webhook", "https://h/x", "--notify-header", "A: s3\ncret"),
    ):
        with pytest.raises(UsageError) as caught:
            notify_settings(parse(*argv))
        assert "s3" not in str(caught.value)


def test_no_webhook_no_notification():
    assert notify_settings(parse()) is None


def test_check_http_url_names_its_source():
    with pytest.raises(UsageError, match="^--notify-report-url "):
        check_http_url("mailto:x", "--notify-report-url")


def test_gauntlet_run_refuses_a_bad_webhook_before_the_run(tmp_path):
    """Once run_cmd adds the flags: exit 2, one line, nothing started."""
    from gauntlet.cli.main import build_parser

    probe = build_parser().parse_known_args(
        ["run", "--profile", "gate", "--notify-webhook", "x"]
    )
    if "notify_webhook" not in vars(probe[0]):
        pytest.skip("gauntlet run has no --notify-webhook yet (not wired)")
    done = gauntlet(
        tmp_path,
        "run",
        "--profile",
        "gate",
        "--kubeconfig",
        str(tmp_path / "none"),
        "--notify-webhook",
        "ftp://u:s3cret@h/x",
    )
    assert_one_line_error(done, "only http:// and https://")
    assert "s3cret" not in done.stderr
