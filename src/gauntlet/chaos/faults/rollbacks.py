"""Undo every fault the run recorded, newest first.

Discovered as an action; put it last in an experiment's ``rollbacks`` so
that whatever the method did (and whatever a failed action half did) is
undone, also when an earlier rollback failed.
"""

from chaoslib.exceptions import ActivityFailed

from gauntlet.chaos import _context
from gauntlet.chaos._context import Configuration, Secrets

__all__ = ["rollback_faults"]


def rollback_faults(
    configuration: Configuration = None, secrets: Secrets = None
) -> list[str]:
    """Roll back every open fault of this run's ledger, LIFO.

    The run is ``gauntlet_run_id`` from the configuration (or
    ``KUBE_GAUNTLET_RUN_ID``). Returns what was rolled back.

    Raises:
        ActivityFailed: a rollback failed; its entry stays open for
            ``gauntlet recover``.
    """
    ledger = _context.ledger(configuration)
    pending = [e.description for e in reversed(ledger.open_entries())]
    failures = ledger.rollback_all()
    if failures:
        raise ActivityFailed(
            "rollback failed: "
            + "; ".join(f"{f.entry.description}: {f.error}" for f in failures)
            + "; run `gauntlet recover`"
        )
    return pending
