"""Kubernetes release versions (``v1.37.2``) as the skew policy reads them.

One parser for every place that compares versions: the CLI's
``--target-version``, the skew check, the removed-API table and the
lab's releases. Distribution suffixes (``v1.30.4-eks-a1b2``,
``v1.31.2+k3s1``) are kept as text but never compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gauntlet.errors import UsageError

__all__ = ["KubeVersion", "parse_version"]

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?([-+].*)?$")


@dataclass(frozen=True, order=True)
class KubeVersion:
    """``major.minor.patch``; ordered by those numbers only."""

    major: int
    minor: int
    patch: int = 0

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"

    @property
    def minor_name(self) -> str:
        """``v1.37``: what the skew policy and removals speak of."""
        return f"v{self.major}.{self.minor}"

    def minors_after(self, other: KubeVersion) -> int:
        """How many minor releases ``self`` is ahead of ``other`` (negative
        when behind); only meaningful within one major version."""
        return self.minor - other.minor


def parse_version(text: str, what: str = "version") -> KubeVersion:
    """``v1.37.2``, ``1.37.2``, ``v1.37`` or ``v1.30.4-eks-a1b2``.

    Raises:
        UsageError: not a Kubernetes version, naming ``what`` it was.
    """
    found = _VERSION.match(text.strip())
    if found is None:
        raise UsageError(
            f"{what} {text!r} is not a Kubernetes version (vMAJOR.MINOR.PATCH,"
            " for example v1.37.2)"
        )
    major, minor, patch, _suffix = found.groups()
    return KubeVersion(int(major), int(minor), int(patch or 0))
