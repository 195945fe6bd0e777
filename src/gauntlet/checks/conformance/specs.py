"""CONF-01: the cluster passes the upstream conformance specs of its
version."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gauntlet import progress
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.conformance.binary import ensure_e2e
from gauntlet.conformance.images import (
    SetAside,
    always_pulling,
    set_aside,
    spec_images,
    write_repo_list,
)
from gauntlet.conformance.modes import DEFAULT_MODE, Mode, check_mode, selection
from gauntlet.conformance.results import write_allure_results
from gauntlet.conformance.runner import RunRequest, list_specs, run_specs
from gauntlet.conformance.specs import SpecResult, read_report, suite_failures
from gauntlet.errors import ToolFailed
from gauntlet.images import IMAGE_REPO_ENV

STEP = "upstream conformance specs"
MODE_ENV = "KUBE_GAUNTLET_CONFORMANCE_MODE"
PROCS_ENV = "KUBE_GAUNTLET_CONFORMANCE_PROCS"
NO_PULL_ENV = "KUBE_GAUNTLET_CONFORMANCE_NO_PULL"
SKIP_ENV = "KUBE_GAUNTLET_CONFORMANCE_SKIP"
"""JSON: spec name -> why it is not run (``--skip-spec``, or what the
target says of itself, such as the lab's images that differ)."""


@dataclass(frozen=True)
class Settings:
    """How ``gauntlet run --profile conformance`` asked for the run."""

    mode: Mode = DEFAULT_MODE
    procs: int = 1
    no_pull: bool = False
    """The cluster pulls no images: set aside specs whose image no node
    holds instead of letting them time out."""
    mirror: str | None = None
    skips: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Specs not to run, by exact name, with the reason."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            mode=check_mode(env.get(MODE_ENV) or DEFAULT_MODE),
            procs=int(env.get(PROCS_ENV) or 1),
            no_pull=env.get(NO_PULL_ENV, "") == "1",
            mirror=env.get(IMAGE_REPO_ENV) or None,
            skips=json.loads(env.get(SKIP_ENV) or "{}"),
        )


def _node_images(ctx: CheckContext) -> set[str]:
    names: set[str] = set()
    for node in ctx.cluster.core().list_node().items:
        status = node.status
        for image in (status.images if status else None) or []:
            names.update(image.names or [])
    return names


def check_conformance(
    ctx: CheckContext,
    out_dir: Path,
    results_dir: Path | None,
    say: Callable[[str], None] = progress.say,
) -> None:
    """Build (once) the e2e binary of the server's release, list what the
    mode selects, set aside specs whose image the cluster cannot have,
    run the rest under ginkgo and judge every spec that ran.

    Parts: one per SIG (its failed specs are the findings), and ``suite
    set-up`` (a failed BeforeSuite fails every spec). Kept: ginkgo's JSON
    and JUnit reports and its output, in ``out_dir``.

    Raises:
        GuaranteeViolated: naming each failed spec and its message, or
            the failed suite set-up (then no spec ran).
        CheckSkipped: the mode selected nothing, or no spec ran.
        BuildError: the e2e binary could not be built (no verdict).
        ToolFailed: ginkgo failed without running or failing anything.
    """
    settings = Settings.from_env()
    say(f"conformance: e2e binary for {ctx.topology.server_version}")
    tools = ensure_e2e(ctx.topology.server_version)
    target = ctx.cluster.target
    request = RunRequest(
        tools=tools,
        kubeconfig=None if target.in_cluster else target.kubeconfig_path,
        context=None if target.in_cluster else ctx.cluster.context,
        selection=selection(settings.mode),
        skip=(),
        out_dir=out_dir,
        procs=settings.procs,
        repo_list=(
            write_repo_list(settings.mirror, _mkdir(out_dir) / "repo-list.yaml")
            if settings.mirror
            else None
        ),
    )
    specs = list_specs(request)
    if not specs:
        raise CheckSkipped(f"mode {settings.mode} selects no spec")
    every = list_specs(
        dataclasses.replace(request, selection=selection("certified"))
    )
    chosen = {s.name for s in specs}
    by_mode = [s for s in every if s.name not in chosen]
    aside: list[SetAside] = []
    if settings.no_pull:
        aside = set_aside(
            specs,
            _node_images(ctx),
            settings.mirror,
            spec_images(),
            always_pulling(),
        )
    aside += [
        SetAside(spec, reason)
        for spec in specs
        if (reason := settings.skips.get(spec.name))
        and spec.name not in {a.spec.name for a in aside}
    ]
    ctx.evidence(
        "specs not run",
        [{"spec": a.spec.name, "reason": a.reason} for a in aside]
        + [
            {"spec": s.name, "reason": f"not in mode {settings.mode}"}
            for s in by_mode
        ],
    )
    request = dataclasses.replace(
        request, skip=tuple(a.spec.name for a in aside)
    )
    outcome = run_specs(request, len(specs) - len(aside), say)
    results = read_report(outcome.report)
    ran = [r for r in results if r.ran]
    if results_dir is not None:
        write_allure_results(results_dir, ran, aside, settings.mode)
    passed = sum(r.passed for r in ran)
    ctx.measure("specs selected", len(specs), "specs")
    ctx.measure("specs run", len(ran), "specs")
    ctx.measure("specs passed", passed, "specs")
    ctx.measure("specs failed", len(ran) - passed, "specs", 0)
    ctx.measure("specs not run (set aside)", len(aside), "specs")
    ctx.measure("specs not run (mode)", len(by_mode), "specs")
    ctx.measure("run time", outcome.seconds, "s")
    ctx.evidence("ginkgo output (tail)", _tail(outcome.log))
    set_up = suite_failures(outcome.report)
    if not ran and not set_up and outcome.exit_code != 0:
        raise ToolFailed(
            f"ginkgo exited {outcome.exit_code} without running a spec or "
            f"failing its set-up: see {outcome.log}"
        )
    _judge(ctx, ran, set_up, outcome.exit_code)
    if not ran:
        # a failed suite set-up runs no spec: that is a violation found,
        # never hidden by the skip for "nothing observed"
        ctx.conclude(STEP)
        raise CheckSkipped(
            f"no spec ran (ginkgo exit {outcome.exit_code}; {outcome.log})"
        )
    ctx.conclude(STEP)


def _judge(
    ctx: CheckContext,
    ran: list[SpecResult],
    set_up: list[str],
    exit_code: int,
) -> None:
    with ctx.part("suite set-up") as part:
        for failure in set_up:
            part.finding(failure)
        if exit_code != 0 and not set_up and ran and all(r.passed for r in ran):
            part.finding(f"ginkgo exited {exit_code} with no spec failed")
    by_sig: dict[str, list[SpecResult]] = defaultdict(list)
    for result in ran:
        by_sig[result.spec.sig].append(result)
    for sig in sorted(by_sig):
        with ctx.part(f"{sig}: {len(by_sig[sig])} specs") as part:
            for result in by_sig[sig]:
                if not result.passed:
                    first = (result.message.splitlines() or [result.state])[0]
                    part.finding(f"{result.spec.name}: {first}")


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tail(log: Path, lines: int = 200) -> str:
    try:
        return "\n".join(
            log.read_text("utf-8", "replace").splitlines()[-lines:]
        )
    except OSError as exc:
        return f"(no output: {exc})"
