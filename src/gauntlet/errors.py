"""The project's exception tree.

Small and flat, like chaoslib's: the CLI turns every ``GauntletError`` into
one line and exit code 2, so each message must say what is wrong and what to
do about it.
"""

from __future__ import annotations


class GauntletError(Exception):
    """Base of every error the project raises on purpose."""


class UsageError(GauntletError):
    """Bad input from the user: unknown profile, missing opt-in, bad file."""


class InvalidScenario(UsageError):
    """An experiment or profile definition that cannot be run."""


class ClusterUnreachable(GauntletError):
    """The API server cannot be reached or the kubeconfig is unusable."""


class PermissionMissing(GauntletError):
    """The credentials lack an RBAC permission the run needs."""


class ClusterOperationFailed(GauntletError):
    """A call to the cluster failed while doing ``verb`` on ``resource``."""

    def __init__(
        self, verb: str, resource: str, namespace: str | None, reason: str
    ) -> None:
        where = f" in namespace {namespace}" if namespace else ""
        super().__init__(f"{verb} {resource}{where}: {reason}")
        self.verb = verb
        self.resource = resource
        self.namespace = namespace


class RunStopped(GauntletError):
    """A configuration error found mid-run: no verdict can follow, so the
    run stops and ``gauntlet run`` exits 2 with this one line."""


class CredentialsRefused(RunStopped):
    """The API answered 401 or 403 to the run's requests: the kubeconfig's
    credentials are wrong or too weak, not the cluster broken."""


class BuildError(GauntletError):
    """A Go program could not be built from its published module (no Go
    toolchain, the module proxy refused, the compiler failed)."""


class ToolFailed(GauntletError):
    """A program a check runs (ginkgo, the e2e binary) failed before it
    could give a verdict: an error, never a pass or a skip."""


class LabError(GauntletError):
    """The lab cluster could not be built, booted or torn down."""


class NodeAccessError(GauntletError):
    """A command on a node could not be run through the node access backend."""


class Unobservable(GauntletError):
    """What a check needs cannot be seen on this cluster (hidden,
    forbidden, absent); the reason says which and why."""


class GuaranteeViolated(AssertionError):
    """A guarantee does not hold; the message names component and evidence."""


class GuaranteeTimeout(GuaranteeViolated):
    """A condition was not reached in time; carries the last observed state."""

    def __init__(self, what: str, timeout_s: float, last_state: str) -> None:
        super().__init__(
            f"{what}: not reached within {timeout_s:.0f}s "
            f"(last observed: {last_state})"
        )
        self.what = what
        self.timeout_s = timeout_s
        self.last_state = last_state
