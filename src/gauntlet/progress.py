"""Visible progress for long steps: builds, boots and waits.

Everything goes to stderr so that stdout stays parseable. A step prints when
it starts and ends with its duration; a wait prints what it awaits and for
how long, at most every ``REPORT_EVERY_S`` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from gauntlet.errors import GauntletError, GuaranteeTimeout

REPORT_EVERY_S = 10.0
T = TypeVar("T")


def say(message: str) -> None:
    """Print one progress line to stderr."""
    print(f"[gauntlet] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(title: str, heartbeat: bool = True) -> Iterator[None]:
    """Announce a step, print a heartbeat while it runs, then its time."""
    start = time.monotonic()
    say(f"{title} ...")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(REPORT_EVERY_S * 3):
            say(f"  still {title.lower()} ({time.monotonic() - start:.0f}s)")

    thread = threading.Thread(target=beat, daemon=True)
    if heartbeat:
        thread.start()
    try:
        yield
    except BaseException:
        say(f"{title}: failed after {time.monotonic() - start:.1f}s")
        raise
    finally:
        stop.set()
    say(f"{title}: done in {time.monotonic() - start:.1f}s")


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float,
    poll_s: float = 1.0,
    describe: Callable[[], str] | None = None,
    quiet: bool = False,
) -> T:
    """Poll ``probe`` until it returns a truthy value, else time out.

    Raises:
        GuaranteeTimeout: with ``describe()`` (or the last exception) as the
            last observed state.
    """
    start = time.monotonic()
    last_report = start
    last_state = "never observed"
    while True:
        try:
            value = probe()
        except GauntletError:
            raise
        except Exception as exc:  # noqa: BLE001 - the probe is foreign code
            value = None
            last_state = f"{type(exc).__name__}: {exc}"
        if value:
            return value
        now = time.monotonic()
        if describe is not None:
            try:
                last_state = describe()
            except Exception as exc:  # noqa: BLE001 - best-effort status
                last_state = f"{type(exc).__name__}: {exc}"
        if now - start >= timeout_s:
            raise GuaranteeTimeout(what, timeout_s, last_state)
        if not quiet and now - last_report >= REPORT_EVERY_S:
            say(
                f"  waiting for {what} "
                f"({now - start:.0f}s/{timeout_s:.0f}s): {last_state}"
            )
            last_report = now
        time.sleep(poll_s)
