"""kube-gauntlet's Chaos Toolkit extension.

Subpackages by area (``components``, ``network``, ``etcd``, ``api``,
``leases``, ``workloads``, ``faults``), each with ``actions.py`` and/or
``probes.py``; ``rollbacks.py`` modules hold actions meant for an
experiment's ``rollbacks``. Only names in a module's ``__all__`` are
activities. Every action records its undo in the fault ledger before it
injects anything.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

from chaoslib.discovery.discover import (
    discover_actions,
    discover_probes,
    initialize_discovery_result,
)
from chaoslib.types import DiscoveredActivities, Discovery

from gauntlet import __version__

__all__ = ["ACTIVITY_MODULES", "activity_modules", "discover"]

ACTIVITY_MODULES = {
    "actions": "action",
    "probes": "probe",
    "rollbacks": "action",
}
"""Module name -> activity type."""

_PORTABLE: dict[object, str] = {
    list: "list",
    dict: "mapping",
    tuple: "tuple",
    set: "set",
}


def discover(discover_system: bool = True) -> Discovery:
    """Every activity of the extension, for ``chaos discover``.

    ``discover_system`` is accepted for the chaostoolkit protocol; the
    system itself is described by ``gauntlet run``'s topology instead.
    """
    discovery = initialize_discovery_result(
        "kube-gauntlet", __version__, "kubernetes"
    )
    for module, kind in activity_modules():
        if kind == "probe":
            found = discover_probes(module)
        else:
            found = discover_actions(module)
        discovery["activities"].extend(_with_return_types(found))
    return discovery


def activity_modules() -> list[tuple[str, str]]:
    """``(module, activity type)`` for every activity module, by walking
    the package: the type comes from the module's name."""
    found = []
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in ACTIVITY_MODULES:
            found.append((info.name, ACTIVITY_MODULES[leaf]))
    return sorted(found)


def _with_return_types(
    activities: DiscoveredActivities,
) -> DiscoveredActivities:
    """Fill in portable names for generic returns (``dict[str, str]``)
    that chaoslib leaves as ``object``."""
    for activity in activities:
        module = importlib.import_module(activity["mod"])
        func = getattr(module, activity["name"])
        returned = inspect.signature(func).return_annotation
        origin = typing.get_origin(returned) or returned
        portable = _PORTABLE.get(origin)
        if portable is not None:
            activity["return_type"] = portable
    return activities
