"""Named request mixes: a weight per request name.

Pure data. A Locust user picks each task with probability weight / sum
of the scenario's weights, so at a fixed rate each request name gets its
share of the rate. ``default`` is LOAD-01's mix; ``get-and-list`` is the
single-object GET against namespace LIST comparison of
``benchmarks/load_vs_reference``. Every name is one of
``gauntlet.load.slo.REQUEST_KINDS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["SCENARIOS", "Weights", "shares"]

Weights = Mapping[str, int]

GET = "GET single configmap"
LIST_NS = "LIST namespace configmaps"
LIST_NS_RV0 = "LIST namespace configmaps rv=0"
LIST_NS_PAGED = "LIST namespace configmaps paged"
LIST_CL = "LIST cluster pods"
LIST_CL_RV0 = "LIST cluster pods rv=0"
LIST_CL_PAGED = "LIST cluster pods paged"
CREATE = "CREATE single configmap"
UPDATE = "UPDATE single configmap"
PATCH = "PATCH single configmap"
DELETE = "DELETE single configmap"
WATCH = "WATCH namespace configmaps"

SCENARIOS: Mapping[str, Weights] = MappingProxyType(
    {
        "default": MappingProxyType(
            {
                GET: 6,
                LIST_NS: 2,
                LIST_NS_RV0: 1,
                LIST_NS_PAGED: 1,
                LIST_CL: 1,
                LIST_CL_RV0: 1,
                LIST_CL_PAGED: 1,
                CREATE: 3,
                UPDATE: 2,
                PATCH: 2,
                DELETE: 3,
                WATCH: 1,
            }
        ),
        "read-heavy": MappingProxyType(
            {
                GET: 12,
                LIST_NS: 4,
                LIST_NS_RV0: 3,
                LIST_NS_PAGED: 2,
                LIST_CL: 1,
                LIST_CL_RV0: 1,
                LIST_CL_PAGED: 1,
                CREATE: 1,
                UPDATE: 1,
                PATCH: 1,
                DELETE: 1,
                WATCH: 1,
            }
        ),
        "write-heavy": MappingProxyType(
            {
                GET: 2,
                LIST_NS: 1,
                CREATE: 6,
                UPDATE: 4,
                PATCH: 4,
                DELETE: 6,
                WATCH: 1,
            }
        ),
        "list-storm": MappingProxyType(
            {
                GET: 1,
                LIST_NS: 3,
                LIST_NS_RV0: 3,
                LIST_NS_PAGED: 3,
                LIST_CL: 3,
                LIST_CL_RV0: 3,
                LIST_CL_PAGED: 2,
                WATCH: 1,
            }
        ),
        "get-and-list": MappingProxyType({GET: 1, LIST_NS: 1}),
    }
)
"""Scenario name -> request name -> weight."""


def shares(scenario: str) -> dict[str, float]:
    """Each request name's share of the scenario's requests (sums to 1)."""
    weights = SCENARIOS[scenario]
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}
