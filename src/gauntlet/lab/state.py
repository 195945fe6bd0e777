"""What the lab on this host looks like, read without changing it.

``gauntlet run`` decides from this whether to boot a lab or to run on
the one that is up; it must never rebuild a lab whose state (a node
NotReady, a component stopped) may be the very thing to be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LabState", "Shape"]

Shape = tuple[int, int]
"""``(control planes, workers)``."""


@dataclass(frozen=True)
class LabState:
    """The lab as found: absent, healthy or degraded, and how."""

    shape: Shape | None
    """From the lab's manifest; None when no lab was set up."""
    leftovers: tuple[int, ...] = ()
    """PIDs of lab processes running without a manifest (a killed boot)."""
    booted: bool = True
    """False when the boot that wrote the manifest never finished."""
    not_running: tuple[str, ...] = ()
    """Nodes whose init process is gone."""
    not_ready: tuple[str, ...] = ()
    """Nodes the API does not report Ready (those not running included)."""
    api_error: str | None = None
    """Why the API could not be asked which nodes are Ready."""
    missing_images: tuple[str, ...] = ()
    """Images this version runs that the lab never imported (it was
    booted by another version); its nodes cannot pull them."""

    @property
    def exists(self) -> bool:
        return self.shape is not None or bool(self.leftovers)

    @property
    def healthy(self) -> bool:
        return (
            self.shape is not None
            and self.booted
            and self.api_error is None
            and not self.not_running
            and not self.not_ready
        )

    def problems(self) -> list[str]:
        """What is wrong, one short phrase each, naming the nodes."""
        found = []
        if not self.booted:
            found.append("its boot never finished")
        if self.not_running:
            found.append(f"node process gone: {', '.join(self.not_running)}")
        if self.api_error is not None:
            found.append(f"its API does not answer: {self.api_error}")
        elif self.not_ready:
            found.append(f"not Ready: {', '.join(self.not_ready)}")
        return found
