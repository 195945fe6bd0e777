"""The upstream version skew policy as data, and what it says about a
cluster's versions and an upgrade target.

The rules are in ``data/version-skew.json`` (with the page they were read
from and when); this module loads them and judges, with no cluster:
observed versions and a target in, findings out (``_upgrade_order``
names the steps). ``_component_versions`` observes, ``skew`` is the check.

Minor versions are compared, never patches: the policy speaks of minors,
and a v1.36.4 kubelet beside a v1.36.3 API server is supported. A
component is held against the oldest API server for "not newer" and the
newest for "not too old", since it may reach any of them through the
front door (the policy notes that API server skew narrows the range).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from gauntlet.errors import GauntletError, UsageError
from gauntlet.kube_version import KubeVersion, parse_version

__all__ = [
    "APISERVER",
    "CONTROLLERS",
    "KUBELET",
    "KUBE_PROXY",
    "NODE_AGENTS",
    "ComponentRule",
    "Finding",
    "ObservedVersion",
    "SkewPolicy",
    "judge",
    "load_policy",
]

APISERVER = "kube-apiserver"
KUBELET = "kubelet"
KUBE_PROXY = "kube-proxy"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
CLOUD_CONTROLLER_MANAGER = "cloud-controller-manager"
CONTROLLERS = (CONTROLLER_MANAGER, SCHEDULER, CLOUD_CONTROLLER_MANAGER)
NODE_AGENTS = (KUBELET, KUBE_PROXY)
DATA_FILE = "data/version-skew.json"

Rule = Literal[
    "apiserver-spread",
    "other-major",
    "newer-than-apiserver",
    "older-than-apiserver",
    "proxy-vs-kubelet",
    "target-major",
    "target-downgrade",
    "target-skips-minors",
    "target-prerequisite",
]


@dataclass(frozen=True)
class ObservedVersion:
    """One component instance's version and where it was read."""

    component: str
    node: str
    """The node it runs on (an API server's address when no node has it)."""
    version: KubeVersion
    source: str
    """How it was read: ``GET /version at https://...``, a binary's
    ``--version``, a Node's status, a pod's image tag."""
    reported: str = ""
    """The version as reported (``v1.31.2+k3s1``), when it says more."""

    @property
    def label(self) -> str:
        return f"{self.component} on {self.node}"

    @property
    def shown(self) -> str:
        return self.reported or str(self.version)


@dataclass(frozen=True)
class Finding:
    """A rule of the policy broken, naming the instance and its version."""

    component: str
    """The component, for a rule about the target too (a prerequisite)."""
    node: str
    rule: Rule
    text: str

    @property
    def about_target(self) -> bool:
        return self.rule.startswith("target")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ComponentRule:
    """How far one component may be from the API servers."""

    newer_than_apiserver: bool
    max_older_minors: int
    max_minors_from_kubelet: int | None = None
    narrower_below: KubeVersion | None = None
    """Below this version, both limits are ``narrower_minors``."""
    narrower_minors: int = 0

    def max_older(self, version: KubeVersion) -> int:
        """Minors it may be behind the API servers, at its version."""
        if self.narrower_below is not None and version < self.narrower_below:
            return self.narrower_minors
        return self.max_older_minors

    def max_from_kubelet(self, version: KubeVersion) -> int | None:
        """Minors it may be from its node's kubelet (kube-proxy only)."""
        if self.max_minors_from_kubelet is None:
            return None
        if self.narrower_below is not None and version < self.narrower_below:
            return self.narrower_minors
        return self.max_minors_from_kubelet


@dataclass(frozen=True)
class SkewPolicy:
    """The rules of ``data/version-skew.json``."""

    source: str
    read: str
    apiserver_spread: int
    components: Mapping[str, ComponentRule]
    minors_per_step: int


def load_policy(text: str | None = None) -> SkewPolicy:
    """The packaged policy (or ``text`` in its format).

    Raises:
        GauntletError: the file is not the policy's format.
    """
    if text is None:
        text = resources.files("gauntlet").joinpath(DATA_FILE).read_text()
    try:
        data = json.loads(text)
        components = {
            name: _component_rule(rule)
            for name, rule in data["components"].items()
        }
        return SkewPolicy(
            source=str(data["source"]),
            read=str(data["read"]),
            apiserver_spread=int(data["apiserver"]["max_spread_minors"]),
            components=components,
            minors_per_step=int(data["upgrade"]["minors_per_step"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GauntletError(f"{DATA_FILE}: not a skew policy: {exc}") from exc


def _component_rule(rule: Mapping[str, Any]) -> ComponentRule:
    narrower = rule.get("narrower_below")
    below = None
    if narrower is not None:
        try:
            below = parse_version(str(narrower["version"]))
        except UsageError as exc:
            raise ValueError(str(exc)) from exc
    kubelet = rule.get("max_minors_from_kubelet")
    return ComponentRule(
        newer_than_apiserver=bool(rule["newer_than_apiserver"]),
        max_older_minors=int(rule["max_older_minors"]),
        max_minors_from_kubelet=None if kubelet is None else int(kubelet),
        narrower_below=below,
        narrower_minors=int(narrower["max_minors"]) if narrower else 0,
    )


def judge(
    policy: SkewPolicy,
    observed: Sequence[ObservedVersion],
    target: KubeVersion,
) -> list[Finding]:
    """Every rule of the policy the observed versions or the target break.

    Nothing is judged without an API server version: every rule is
    relative to one (the caller reports that as unobserved).
    """
    servers = [o for o in observed if o.component == APISERVER]
    if not servers:
        return []
    oldest = min(servers, key=lambda o: o.version)
    newest = max(servers, key=lambda o: o.version)
    findings = _spread(policy, oldest, newest)
    for seen in observed:
        rule = policy.components.get(seen.component)
        if rule is not None:
            findings += _against_servers(seen, rule, oldest, newest)
    findings += _proxies_vs_kubelets(policy, observed)
    findings += _target(policy, observed, target, oldest, newest)
    return findings


def _spread(
    policy: SkewPolicy, oldest: ObservedVersion, newest: ObservedVersion
) -> list[Finding]:
    if oldest.version.major != newest.version.major:
        gap = None
    else:
        gap = newest.version.minors_after(oldest.version)
    if gap is not None and gap <= policy.apiserver_spread:
        return []
    return [
        Finding(
            APISERVER,
            oldest.node,
            "apiserver-spread",
            f"kube-apiserver instances are more than "
            f"{_minors(policy.apiserver_spread)} apart: {oldest.label} is "
            f"{oldest.shown}, {newest.label} is {newest.shown}",
        )
    ]


def _against_servers(
    seen: ObservedVersion,
    rule: ComponentRule,
    oldest: ObservedVersion,
    newest: ObservedVersion,
) -> list[Finding]:
    v = seen.version
    if v.major != oldest.version.major:
        return [
            Finding(
                seen.component,
                seen.node,
                "other-major",
                f"{seen.label} is {seen.shown}, another major version than "
                f"the API servers ({oldest.shown}): outside the skew policy",
            )
        ]
    if not rule.newer_than_apiserver and v.minor > oldest.version.minor:
        return [
            Finding(
                seen.component,
                seen.node,
                "newer-than-apiserver",
                f"{seen.label} is {seen.shown}, newer than the oldest API "
                f"server {oldest.shown} (on {oldest.node})",
            )
        ]
    behind = newest.version.minors_after(v)
    limit = rule.max_older(v)
    if behind <= limit:
        return []
    return [
        Finding(
            seen.component,
            seen.node,
            "older-than-apiserver",
            f"{seen.label} is {seen.shown}, {_minors(behind)} older than "
            f"the newest API server {newest.shown} (on {newest.node}; at "
            f"most {limit} allowed)",
        )
    ]


def _proxies_vs_kubelets(
    policy: SkewPolicy, observed: Sequence[ObservedVersion]
) -> list[Finding]:
    rule = policy.components.get(KUBE_PROXY)
    kubelets = {o.node: o for o in observed if o.component == KUBELET}
    findings = []
    for proxy in (o for o in observed if o.component == KUBE_PROXY):
        kubelet = kubelets.get(proxy.node)
        limit = rule.max_from_kubelet(proxy.version) if rule else None
        if kubelet is None or limit is None:
            continue
        if kubelet.version.major != proxy.version.major:
            continue  # reported against the API servers already
        apart = abs(kubelet.version.minors_after(proxy.version))
        if apart > limit:
            findings.append(
                Finding(
                    KUBE_PROXY,
                    proxy.node,
                    "proxy-vs-kubelet",
                    f"{proxy.label} is {proxy.shown}, {_minors(apart)} from "
                    f"the kubelet beside it ({kubelet.shown}; at most "
                    f"{limit} allowed)",
                )
            )
    return findings


def _target(
    policy: SkewPolicy,
    observed: Sequence[ObservedVersion],
    target: KubeVersion,
    oldest: ObservedVersion,
    newest: ObservedVersion,
) -> list[Finding]:
    if target.major != oldest.version.major:
        return [
            _about_target(
                "target-major",
                f"target {target} is another major version than the API "
                f"servers ({oldest.shown}): outside the skew policy",
            )
        ]
    if target < newest.version:
        return [
            _about_target(
                "target-downgrade",
                f"target {target} is older than {newest.label} "
                f"({newest.shown}): a downgrade, which the skew policy "
                "does not support",
            )
        ]
    ahead = target.minors_after(oldest.version)
    if ahead > policy.minors_per_step:
        skipped = ", ".join(
            f"v{target.major}.{minor}"
            for minor in range(oldest.version.minor + 1, target.minor)
        )
        return [
            _about_target(
                "target-skips-minors",
                f"target {target} skips {skipped}: upgrade one minor at a "
                f"time (the oldest API server, on {oldest.node}, is "
                f"{oldest.shown})",
            )
        ]
    if ahead <= 0:
        return []  # a patch upgrade: the rules above already hold
    return _prerequisites(policy, observed, target, newest)


def _prerequisites(
    policy: SkewPolicy,
    observed: Sequence[ObservedVersion],
    target: KubeVersion,
    newest: ObservedVersion,
) -> list[Finding]:
    """What must be upgraded before the API servers go to the target's
    minor: anything that would then be too far behind them."""
    findings = []
    for seen in observed:
        rule = policy.components.get(seen.component)
        if rule is None or seen.version.major != target.major:
            continue
        limit = rule.max_older(seen.version)
        if newest.version.minors_after(seen.version) > limit:
            continue  # too old already: reported against the API servers
        behind = target.minors_after(seen.version)
        if behind > limit:
            findings.append(
                Finding(
                    seen.component,
                    seen.node,
                    "target-prerequisite",
                    f"before the API servers go to {target.minor_name}: "
                    f"{seen.label} is {seen.shown}, which would be "
                    f"{_minors(behind)} behind them (at most {limit} "
                    "allowed): upgrade it first",
                )
            )
    return findings


def _about_target(rule: Rule, text: str) -> Finding:
    return Finding("target", "", rule, text)


def _minors(n: int) -> str:
    return f"{n} minor" if n == 1 else f"{n} minors"
