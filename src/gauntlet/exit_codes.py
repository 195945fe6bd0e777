"""The exit codes of every ``gauntlet`` command, in one place.

CI scripts branch on them, so a code means the same thing whichever
command returns it; subcommands take them from here, never from
``gauntlet.cli.main``.
"""

from __future__ import annotations

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "EXIT_VIOLATED",
]

EXIT_OK = 0
"""Every selected guarantee held (or the command did what it was asked)."""
EXIT_VIOLATED = 1
"""A guarantee was violated, an experiment failed or a rollback failed."""
EXIT_USAGE = 2
"""Usage or environment error: one ``gauntlet: error:`` line, no verdict."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C), after the injected faults were rolled back."""
EXIT_TERMINATED = 143
"""Stopped by SIGTERM, after the injected faults were rolled back."""
