"""Which conformance specs a mode runs: the modes Sonobuoy users know.

``quick`` is a handful of specs, one or two per SIG, chosen to touch each
part of the architecture (scheduling and the kubelet, Services and DNS,
admission and conversion webhooks behind Services, controllers, volumes,
service-account tokens, kubectl) in minutes. ``non-disruptive`` is every
[Conformance] spec except [Serial] and [Disruptive] ones; ``certified``
is all of them, as a certification run needs (and so needs the
destructive opt-in: [Disruptive] specs taint and restart nodes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from gauntlet.errors import UsageError

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "QUICK_SPECS",
    "Mode",
    "Selection",
    "check_mode",
    "go_literal",
    "selection",
]

Mode = Literal["quick", "non-disruptive", "certified"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_MODE: Mode = "non-disruptive"
"""Sonobuoy's default too: safe on a cluster in use."""

QUICK_SPECS = (
    "[sig-node] Pods should be submitted and removed",
    "[sig-apps] Deployment RollingUpdateDeployment should delete old pods "
    "and create new ones",
    "[sig-network] Services should serve a basic endpoint from pods",
    "[sig-network] DNS should provide DNS for the cluster",
    "[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] should "
    "be able to deny pod and configmap creation",
    "[sig-api-machinery] CustomResourceConversionWebhook "
    "[Privileged:ClusterAdmin] should be able to convert from CR v1 to CR v2",
    "[sig-storage] ConfigMap should be consumable from pods in volume",
    "[sig-auth] ServiceAccounts should mount an API token into pods",
    "[sig-cli] Kubectl client Kubectl version should check is all data is "
    "printed",
)
"""Each quick spec's name up to its tags (``[Conformance]`` follows, so
a name that prefixes a longer spec's name still picks only its own)."""

_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class Selection:
    """Ginkgo's view of a mode: a label filter and focus expressions."""

    mode: Mode
    label_filter: str
    focus: tuple[str, ...] = ()

    def ginkgo_args(self) -> list[str]:
        """Flags for the ginkgo CLI (before the test binary)."""
        args = [f"--label-filter={self.label_filter}"]
        args += [f"--focus={f}" for f in self.focus]
        return args

    @property
    def destructive(self) -> bool:
        """Runs [Disruptive] specs: needs the opt-in naming the target."""
        return self.mode == "certified"


def go_literal(text: str) -> str:
    """``text`` as a Go (RE2) regular expression matching it literally.

    Python's ``re.escape`` also escapes spaces, which RE2 refuses.
    """
    return "".join(f"\\{c}" if c in _RE2_SPECIAL else c for c in text)


def check_mode(name: str) -> Mode:
    """The mode called ``name``.

    Raises:
        UsageError: no such mode; the message lists them.
    """
    for mode in MODES:
        if mode == name:
            return mode
    raise UsageError(
        f"unknown conformance mode {name!r}: choose one of {', '.join(MODES)}"
    )


def selection(mode: Mode) -> Selection:
    """What ``mode`` runs, as ginkgo arguments."""
    if mode == "certified":
        return Selection(mode, "Conformance")
    if mode == "non-disruptive":
        return Selection(mode, "Conformance && !Serial && !Disruptive")
    return Selection(
        mode,
        "Conformance && !Serial && !Disruptive",
        tuple(f"{go_literal(spec)} \\[Conformance\\]" for spec in QUICK_SPECS),
    )
