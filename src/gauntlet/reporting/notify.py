"""Tell someone a run ended: POST its summary as JSON to a webhook.

A scheduled game day nobody reads is wasted, so ``--notify-webhook`` puts
the verdict where people look (Slack, a chat bridge, an incident tool).
The notification is a courtesy: it never changes the run's exit code, and
failing to deliver it is one warning on stderr naming the URL with its
credentials redacted. The URL and headers are checked before the run
starts, so a typo costs seconds, not a game day.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gauntlet import __version__, progress
from gauntlet.catalogue import load_catalogue
from gauntlet.errors import GauntletError, UsageError
from gauntlet.reporting.notify_payload import (
    Notification,
    build_payload,
    read_summary,
    report_links,
)
from gauntlet.reporting.summary import RunSummary

__all__ = [
    "NotificationFailed",
    "NotifySettings",
    "check_header",
    "check_http_url",
    "notify_run",
    "post_json",
    "redact_url",
]

TIMEOUT_S = 10.0
"""Per attempt: a webhook that takes longer is not going to answer."""
ATTEMPTS = 3
"""One try and two retries, on connection errors, timeouts, 429 and 5xx."""
BACKOFF_S = 1.0
"""Wait before the first retry; doubled before each further one."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SECRETISH = re.compile(r"[A-Za-z0-9_-]{16,}")
_FRAMING = frozenset({"content-length", "transfer-encoding", "host"})
_BODY_EXCERPT = 200


class NotificationFailed(GauntletError):
    """The webhook did not accept the notification."""


@dataclass(frozen=True)
class NotifySettings:
    """Where and how to post; built (and checked) before the run."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    """``--notify-header`` pairs, sent as given (auth tokens)."""
    report_url: str | None = None
    """Where CI publishes the report, linked from the message."""
    timeout_s: float = TIMEOUT_S
    attempts: int = ATTEMPTS
    backoff_s: float = BACKOFF_S


def check_http_url(url: str, source: str) -> str:
    """Return ``url`` if it is an http(s) URL with a host.

    Raises:
        UsageError: naming ``source`` and the URL with secrets redacted.
    """
    if not url.strip():
        raise UsageError(f"{source} is empty: give an http(s) URL")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UsageError(
            f"{source} {redact_url(url)!r}: a URL has no spaces or "
            "control characters (quote it whole, encode spaces as %20)"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(
            f"{source} {redact_url(url)!r}: not a URL ({exc})"
        ) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(
            f"{source} {redact_url(url)!r}: only http:// and https:// "
            "URLs are supported"
        )
    if not parts.hostname:
        raise UsageError(f"{source} {redact_url(url)!r}: the URL has no host")
    return url


def check_header(text: str) -> tuple[str, str]:
    """Split ``'Name: value'``; errors name the header, never its value.

    Raises:
        UsageError: no colon, a bad name, a line break in the value, or a
            header that frames the request (Content-Length, Host...).
    """
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name:
        raise UsageError(
            "--notify-header takes 'Name: value' (for example "
            "'Authorization: Bearer TOKEN')"
        )
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"--notify-header {name!r}: not a valid header name")
    if any(c in value for c in "\r\n\0"):
        raise UsageError(
            f"--notify-header {name}: the value has a line break or NUL"
        )
    if name.lower() in _FRAMING:
        raise UsageError(
            f"--notify-header {name}: set by the HTTP client, not by hand"
        )
    return name, value


def redact_url(url: str) -> str:
    """``url`` safe to print: user and password, query values, fragment
    and token-like path segments (Slack's, Discord's) become ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    path = "/".join(_redact_segment(s) for s in parts.path.split("/"))
    query = "&".join(
        f"{field.partition('=')[0]}=***"
        for field in parts.query.split("&")
        if field
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def post_json(
    settings: NotifySettings,
    payload: Notification,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload``; return the number of attempts it took.

    Retries connection errors, timeouts, 429 and 5xx with a doubling
    backoff; other answers fail at once. Redirects are not followed: the
    headers may carry a token meant for this host only.

    Raises:
        NotificationFailed: every attempt failed, or a 3xx/4xx answer.
    """
    body = json.dumps(payload).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"kube-gauntlet/{__version__}",
        **dict(settings.headers),
    }
    delay = settings.backoff_s
    attempts = max(settings.attempts, 1)
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            settings.url, data=body, headers=headers, method="POST"
        )
        try:
            _post_once(request, settings.timeout_s)
            return attempt
        except _Retryable as exc:
            if attempt == attempts:
                raise NotificationFailed(
                    f"{exc} (after {attempts} attempts)"
                ) from exc
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable: the loop returns or raises")


def notify_run(
    settings: NotifySettings | None,
    run_dir: Path,
    exit_code: int,
    profile: str,
    context: str,
) -> None:
    """Post the run's summary; warn on stderr if that fails.

    The one place that stops a notification problem from reaching the
    run: whatever goes wrong here is a warning, and the caller returns
    its exit code unchanged.
    """
    if settings is None:
        return
    where = redact_url(settings.url)
    try:
        payload = _payload(settings, run_dir, exit_code, profile, context)
        attempts = post_json(settings, payload)
    except Exception as exc:  # noqa: BLE001 - never costs a run its verdict
        reason = str(exc).replace(settings.url, where) or type(exc).__name__
        print(
            f"gauntlet: warning: notification to {where} failed: {reason}; "
            "the run's exit code is unchanged",
            file=sys.stderr,
        )
        return
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    progress.say(f"notified {where}{tries}")


class _Retryable(Exception):
    """An attempt failed in a way the next one might not."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: object,
        newurl: str,
    ) -> None:
        return None


def _post_once(request: urllib.request.Request, timeout_s: float) -> None:
    """One POST; a 2xx answer returns.

    Raises:
        _Retryable: connection refused or reset, timeout, 429 or 5xx.
        NotificationFailed: any other answer.
    """
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read(_BODY_EXCERPT)
    except urllib.error.HTTPError as exc:
        answer = f"HTTP {exc.code} {exc.reason}{_excerpt(exc)}"
        if exc.code == 429 or exc.code >= 500:
            raise _Retryable(answer) from exc
        if 300 <= exc.code < 400:
            answer += " (redirects are not followed)"
        raise NotificationFailed(answer) from exc
    except urllib.error.URLError as exc:
        raise _Retryable(f"cannot connect: {exc.reason}") from exc
    except TimeoutError as exc:
        raise _Retryable(f"no answer within {timeout_s:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Retryable(f"connection failed: {exc!r}") from exc


def _payload(
    settings: NotifySettings,
    run_dir: Path,
    exit_code: int,
    profile: str,
    context: str,
) -> Notification:
    summary: RunSummary | None = None
    problem: str | None = None
    path = run_dir / "summary.json"
    try:
        summary = read_summary(path)
    except FileNotFoundError:
        problem = f"no {path}: the run ended before writing its verdicts"
    except (OSError, ValueError) as exc:
        problem = f"cannot read {path}: {exc}"
    titles = {g.id: g.claim for g in load_catalogue()}
    return build_payload(
        summary,
        exit_code=exit_code,
        profile=profile,
        context=context,
        report=report_links(run_dir, settings.report_url),
        titles=titles,
        summary_error=problem,
    )


def _excerpt(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(_BODY_EXCERPT).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""
    text = " ".join(text.split())
    return f": {text}" if text else ""


def _redact_segment(segment: str) -> str:
    """16+ token characters with a digit or a capital look like a secret;
    a lowercase word such as ``notifications-webhook`` stays readable."""
    if _SECRETISH.fullmatch(segment) and any(
        c.isdigit() or c.isupper() for c in segment
    ):
        return "***"
    return segment
