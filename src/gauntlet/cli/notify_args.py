"""``--notify-webhook`` and friends for ``gauntlet run``.

Parsed and checked here, before the run starts, so a bad URL or header is
exit 2 in a second rather than a warning after an hour's game day.
"""

from __future__ import annotations

import argparse

from gauntlet.errors import UsageError
from gauntlet.reporting.notify import (
    NotifySettings,
    check_header,
    check_http_url,
)

__all__ = ["add_notify_args", "notify_settings"]


def add_notify_args(parser: argparse.ArgumentParser) -> None:
    """Add the notification flags, read back by ``notify_settings``."""
    group = parser.add_argument_group(
        "notifications", "post the run's summary as JSON when it ends"
    )
    group.add_argument(
        "--notify-webhook",
        metavar="URL",
        help="http(s) URL to POST the summary to (a Slack incoming webhook "
        "works as is); a failed post is a warning, the exit code stays "
        "the run's",
    )
    group.add_argument(
        "--notify-header",
        metavar="'NAME: VALUE'",
        action="append",
        default=[],
        help="extra header for the webhook, e.g. 'Authorization: Bearer "
        "TOKEN' (repeatable)",
    )
    group.add_argument(
        "--notify-report-url",
        metavar="URL",
        help="where the report is published (a CI artifacts page), "
        "linked from the notification",
    )


def notify_settings(args: argparse.Namespace) -> NotifySettings | None:
    """The checked settings, or None when no webhook is asked for.

    ``--notify-webhook ''`` (a CI secret that is not set) is an error,
    not silence: the run was meant to tell someone.

    Raises:
        UsageError: a bad URL or header, or a header or report URL
            without a webhook.
    """
    headers = tuple(check_header(h) for h in args.notify_header)
    report_url = args.notify_report_url
    if report_url is not None:
        check_http_url(report_url, "--notify-report-url")
    if args.notify_webhook is None:
        if headers or report_url is not None:
            raise UsageError(
                "--notify-header and --notify-report-url need "
                "--notify-webhook URL"
            )
        return None
    return NotifySettings(
        url=check_http_url(args.notify_webhook, "--notify-webhook"),
        headers=headers,
        report_url=report_url,
    )
