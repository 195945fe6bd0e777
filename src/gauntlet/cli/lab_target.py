"""Which lab ``gauntlet run`` checks: boot one, or the one that is up.

A run never rebuilds a lab that exists. Its state (a node NotReady, a
component stopped, a partition left behind) may be exactly what the user
wants checked, and rebuilding would erase it and report a clean lab
instead. So: no lab, boot one as asked; a lab whose API answers, run on
it as it is and say first what is wrong with it; a lab that cannot be
run on (its API silent, another shape than asked for, leftovers of a
killed boot), stop with exit 2 and the command that rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gauntlet import progress
from gauntlet.cli.targeting import LAB_CONTEXT, Target
from gauntlet.cluster.client import ClusterTarget
from gauntlet.errors import UsageError
from gauntlet.lab.state import LabState, Shape

__all__ = [
    "DEFAULT_SHAPE",
    "LabDecision",
    "boot_or_reuse_lab",
    "decide",
    "rebuild_command",
]

DEFAULT_SHAPE: Shape = (3, 2)


@dataclass(frozen=True)
class LabDecision:
    """What to do with the lab, and the line that tells the user why."""

    action: Literal["boot", "reuse", "refuse"]
    shape: Shape
    """The shape to boot, or the shape of the lab that is up."""
    message: str


def rebuild_command(shape: Shape) -> str:
    """``gauntlet lab down && gauntlet lab up`` for ``shape``."""
    up = "gauntlet lab up"
    if shape != DEFAULT_SHAPE:
        up += f" --control-planes {shape[0]} --workers {shape[1]}"
    return f"gauntlet lab down && {up}"


def decide(state: LabState, requested: Shape | None) -> LabDecision:
    """Boot, reuse (saying what is wrong) or refuse; never rebuild.

    ``requested`` is the shape named on the command line, None if none
    was: then any lab that is up will do.
    """
    wanted = requested or state.shape or DEFAULT_SHAPE
    rebuild = f"`{rebuild_command(wanted)}`"
    if state.shape is None:
        if state.leftovers:
            pids = ", ".join(str(p) for p in state.leftovers)
            return LabDecision(
                "refuse",
                wanted,
                f"lab processes without a lab manifest are running (pids "
                f"{pids}), left by a killed boot: rebuild with {rebuild}",
            )
        return LabDecision(
            "boot", wanted, f"no lab is up: booting {_s(wanted)}"
        )
    shape = state.shape
    if requested is not None and requested != shape:
        return LabDecision(
            "refuse",
            shape,
            f"a {_s(shape)} lab is up, not the {_s(requested)} asked for: "
            "drop --control-planes/--workers to run on it, or rebuild "
            f"with {rebuild}",
        )
    if state.missing_images:
        return LabDecision(
            "refuse",
            shape,
            f"the {_s(shape)} lab was booted without images this version "
            f"runs ({', '.join(state.missing_images)}) and its nodes cannot "
            f"pull: rebuild with {rebuild}",
        )
    if state.api_error is not None:
        return LabDecision(
            "refuse",
            shape,
            f"the {_s(shape)} lab cannot be checked: "
            f"{'; '.join(state.problems())}; see `gauntlet lab status`, "
            f"or rebuild with {rebuild}",
        )
    if not state.healthy:
        return LabDecision(
            "reuse",
            shape,
            f"the {_s(shape)} lab is degraded ({'; '.join(state.problems())})"
            f": checking it as it is; to start afresh: {rebuild}",
        )
    return LabDecision("reuse", shape, f"a healthy {_s(shape)} lab is up")


def boot_or_reuse_lab(requested: Shape | None) -> Target:
    """The lab to run on, booted only when none exists.

    Raises:
        UsageError: the lab that is up cannot be run on (see ``decide``),
            or ``requested`` is a shape no lab can have.
        LabError: booting failed.
    """
    from gauntlet.lab.cluster import LabCluster
    from gauntlet.lab.topology import plan

    if requested is not None:
        plan(*requested)  # a shape the lab cannot have is a usage error
    lab = LabCluster()
    decision = decide(lab.state(), requested)
    if decision.action == "refuse":
        raise UsageError(decision.message)
    progress.say(decision.message)
    kubeconfig = lab.paths.kubeconfig
    if decision.action == "boot":
        kubeconfig = lab.up(*decision.shape).kubeconfig
    return Target(ClusterTarget(kubeconfig, LAB_CONTEXT), LAB_CONTEXT, True)


def _s(shape: Shape) -> str:
    return f"{shape[0]}+{shape[1]}"
