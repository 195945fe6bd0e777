"""UPG-01's judgement: the upstream version skew policy, as data, applied
to observed versions and a target."""

import json
from datetime import date
from importlib import resources

import pytest

from gauntlet.checks.upg._component_versions import (
    image_version,
    version_in,
)
from gauntlet.checks.upg._skew_policy import (
    ObservedVersion,
    judge,
    load_policy,
)
from gauntlet.checks.upg._upgrade_order import UpgradePlan, upgrade_order
from gauntlet.errors import GauntletError
from gauntlet.kube_version import parse_version

POLICY = load_policy()
CPS = ("cp1", "cp2", "cp3")
WORKERS = ("w1", "w2")


def seen(component, node, version):
    return ObservedVersion(component, node, parse_version(version), "test")


def cluster(version="v1.36.3", **overrides):
    """A 3+2 cluster with every component at ``version``; ``overrides``
    maps ``component_node`` (``kubelet_w1``, ``kube_proxy_cp2``) to
    another version."""
    found = []
    for node in CPS:
        for component in (
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ):
            found.append((component, node))
    for node in CPS + WORKERS:
        found += [("kubelet", node), ("kube-proxy", node)]
    return [
        seen(c, n, overrides.get(f"{c}_{n}".replace("-", "_"), version))
        for c, n in found
    ]


def texts(observed, target):
    return [str(f) for f in judge(POLICY, observed, parse_version(target))]


# -- the data file -------------------------------------------------------


def test_the_policy_names_its_source_and_when_it_was_read():
    raw = json.loads(
        resources.files("gauntlet")
        .joinpath("data/version-skew.json")
        .read_text()
    )
    assert (
        raw["source"] == "https://kubernetes.io/releases/version-skew-policy/"
    )
    assert POLICY.source == raw["source"]
    assert date.fromisoformat(POLICY.read).year >= 2025


def test_the_policy_holds_the_upstream_rules():
    rules = POLICY.components
    assert POLICY.apiserver_spread == 1
    assert POLICY.minors_per_step == 1
    for agent in ("kubelet", "kube-proxy"):
        assert rules[agent].newer_than_apiserver is False
        assert rules[agent].max_older(parse_version("v1.30.0")) == 3
        assert rules[agent].max_older(parse_version("v1.24.9")) == 2
    assert rules["kube-proxy"].max_from_kubelet(parse_version("v1.30.0")) == 3
    for controller in (
        "kube-controller-manager",
        "kube-scheduler",
        "cloud-controller-manager",
    ):
        assert rules[controller].newer_than_apiserver is False
        assert rules[controller].max_older(parse_version("v1.36.0")) == 1


def test_a_broken_policy_file_is_an_error_naming_it():
    with pytest.raises(GauntletError, match="version-skew.json"):
        load_policy('{"source": "x"}')


# -- the rules -----------------------------------------------------------


def test_one_release_everywhere_may_go_one_minor_up():
    assert texts(cluster(), "v1.37.2") == []


def test_a_patch_upgrade_in_the_same_minor_is_fine():
    assert texts(cluster(), "v1.36.9") == []


def test_a_patch_newer_kubelet_is_within_the_policy():
    assert texts(cluster(kubelet_w1="v1.36.9"), "v1.37.2") == []


def test_api_servers_more_than_one_minor_apart_are_named():
    found = texts(cluster(kube_apiserver_cp2="v1.34.0"), "v1.36.5")

    spread = [t for t in found if "kube-apiserver instances" in t]
    assert spread == [
        "kube-apiserver instances are more than 1 minor apart: "
        "kube-apiserver on cp2 is v1.34.0, kube-apiserver on cp1 is v1.36.3"
    ]


def test_a_kubelet_newer_than_the_oldest_api_server_is_named():
    found = texts(cluster(kubelet_w1="v1.37.2"), "v1.37.2")

    assert found == [
        "kubelet on w1 is v1.37.2, newer than the oldest API server "
        "v1.36.3 (on cp1)"
    ]


def test_api_server_skew_narrows_what_a_kubelet_may_be():
    observed = cluster(kube_apiserver_cp3="v1.35.1", kubelet_w2="v1.36.3")

    assert any(
        t.startswith(
            "kubelet on w2 is v1.36.3, newer than the oldest API "
            "server v1.35.1 (on cp3)"
        )
        for t in texts(observed, "v1.36.3")
    )


def test_a_kubelet_four_minors_behind_is_too_old():
    found = texts(cluster(kubelet_w2="v1.32.4"), "v1.36.5")

    assert found == [
        "kubelet on w2 is v1.32.4, 4 minors older than the newest API "
        "server v1.36.3 (on cp1; at most 3 allowed)",
        "kube-proxy on w2 is v1.36.3, 4 minors from the kubelet beside it "
        "(v1.32.4; at most 3 allowed)",
    ]


def test_before_v1_25_a_kubelet_may_be_only_two_minors_behind():
    observed = cluster("v1.27.0", kubelet_w1="v1.24.0", kube_proxy_w1="v1.24.0")

    found = texts(observed, "v1.27.3")
    assert "kubelet on w1 is v1.24.0, 3 minors older" in found[0]
    assert "kube-proxy on w1 is v1.24.0, 3 minors older" in found[1]


def test_kube_proxy_is_held_to_the_api_servers_and_its_kubelet():
    newer = texts(cluster(kube_proxy_w1="v1.37.0"), "v1.37.0")
    assert newer == [
        "kube-proxy on w1 is v1.37.0, newer than the oldest API server "
        "v1.36.3 (on cp1)"
    ]
    apart = cluster("v1.36.3", kubelet_w2="v1.36.0", kube_proxy_w2="v1.32.0")
    found = texts(apart, "v1.36.3")
    assert (
        "kube-proxy on w2 is v1.32.0, 4 minors from the kubelet beside it "
        "(v1.36.0; at most 3 allowed)"
    ) in found


def test_controllers_may_be_one_minor_older_never_newer():
    assert texts(cluster(kube_scheduler_cp2="v1.35.9"), "v1.36.3") == []
    found = texts(
        cluster(
            kube_scheduler_cp2="v1.34.0",
            kube_controller_manager_cp1="v1.37.0",
        ),
        "v1.36.3",
    )
    assert sorted(found) == [
        "kube-controller-manager on cp1 is v1.37.0, newer than the oldest "
        "API server v1.36.3 (on cp1)",
        "kube-scheduler on cp2 is v1.34.0, 2 minors older than the newest "
        "API server v1.36.3 (on cp1; at most 1 allowed)",
    ]


# -- the target ----------------------------------------------------------


def test_a_target_that_skips_minors_names_every_skipped_minor():
    found = judge(POLICY, cluster(), parse_version("v1.39.0"))

    assert [str(f) for f in found] == [
        "target v1.39.0 skips v1.37, v1.38: upgrade one minor at a time "
        "(the oldest API server, on cp1, is v1.36.3)"
    ]
    assert found[0].about_target


def test_the_step_is_counted_from_the_oldest_api_server():
    observed = cluster(kube_apiserver_cp1="v1.37.2")

    assert texts(observed, "v1.37.5") == []
    assert "skips v1.37:" in texts(observed, "v1.38.0")[0]


def test_a_downgrade_target_is_a_finding():
    assert texts(cluster(), "v1.35.4") == [
        "target v1.35.4 is older than kube-apiserver on cp1 (v1.36.3): a "
        "downgrade, which the skew policy does not support"
    ]
    assert "a downgrade" in texts(cluster(), "v1.36.1")[0]


def test_another_major_version_is_outside_the_policy():
    assert "another major version" in texts(cluster(), "v2.0.0")[0]


def test_what_the_target_would_leave_too_far_behind_must_go_first():
    observed = cluster(
        kubelet_w1="v1.33.2", kube_controller_manager_cp3="v1.35.0"
    )

    found = judge(POLICY, observed, parse_version("v1.37.2"))
    assert [str(f) for f in found if f.about_target] == [
        "before the API servers go to v1.37: kube-controller-manager on cp3"
        " is v1.35.0, which would be 2 minors behind them (at most 1 "
        "allowed): upgrade it first",
        "before the API servers go to v1.37: kubelet on w1 is v1.33.2, "
        "which would be 4 minors behind them (at most 3 allowed): upgrade "
        "it first",
    ]
    assert [str(f) for f in found if not f.about_target] == []


def test_nothing_is_judged_without_an_api_server_version():
    observed = [seen("kubelet", "w1", "v1.40.0")]

    assert judge(POLICY, observed, parse_version("v1.37.2")) == []


# -- the upgrade order ---------------------------------------------------


def order(observed, target="v1.37.2", managed=False):
    steps = upgrade_order(
        observed, parse_version(target), CPS, WORKERS, managed
    )
    return [s.what for s in steps]


def test_the_order_is_etcd_api_servers_controllers_then_drained_nodes():
    steps = order(cluster())

    assert steps[0].startswith("etcd on cp1, cp2, cp3: if v1.37.2 needs")
    assert steps[1:4] == [
        f"kube-apiserver on {n}: v1.36.3 -> v1.37.2 (one at a time, each "
        "Ready before the next)"
        for n in CPS
    ]
    assert steps[4:7] == [
        f"on {n}: kube-controller-manager v1.36.3 -> v1.37.2, "
        "kube-scheduler v1.36.3 -> v1.37.2"
        for n in CPS
    ]
    assert steps[7:] == [
        f"drain {n}, upgrade kubelet v1.36.3 -> v1.37.2 and kube-proxy "
        f"v1.36.3 -> v1.37.2, uncordon {n}"
        for n in CPS + WORKERS
    ]


def test_the_order_leaves_out_what_is_already_at_the_target():
    steps = order(
        cluster(
            kube_apiserver_cp1="v1.37.2",
            kubelet_w1="v1.37.2",
            kube_proxy_w1="v1.37.2",
        )
    )

    assert not any("kube-apiserver on cp1" in s for s in steps)
    assert not any(s.startswith("drain w1") for s in steps)
    assert any(s.startswith("drain w2") for s in steps)


def test_a_managed_control_plane_is_one_step_the_providers():
    observed = [
        seen("kube-apiserver", "the front door", "v1.36.3"),
        seen("kubelet", "w1", "v1.36.3"),
    ]

    assert order(observed, managed=True) == [
        "control plane: the provider upgrades it to v1.37.2 (etcd, "
        "kube-apiserver, controllers)",
        "drain w1, upgrade kubelet v1.36.3 -> v1.37.2, uncordon w1",
    ]


def test_the_plan_reads_as_numbered_lines_and_says_when_it_is_not_supported():
    target = parse_version("v1.37.2")
    steps = upgrade_order(cluster(), target, CPS, WORKERS)
    plan = UpgradePlan(target, tuple(steps), ("a finding",))

    lines = plan.lines()
    assert lines[0].startswith("upgrade order to v1.37.2 (not supported")
    assert lines[1].startswith("  1. etcd on cp1")
    done = UpgradePlan(target, ())
    assert "nothing to upgrade" in done.text


# -- reading versions ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("Kubernetes v1.37.2\n", "v1.37.2"),
        ("v1.31.2+k3s1", "v1.31.2"),
        ("v1.30.4-eks-a1b2", "v1.30.4"),
    ],
)
def test_a_version_is_read_from_what_a_binary_or_node_reports(text, version):
    assert version_in(text) == parse_version(version)


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("registry.k8s.io/kube-proxy:v1.36.3", "v1.36.3"),
        ("localhost:5000/kube-proxy:v1.36.3@sha256:abcd", "v1.36.3"),
        ("602401143452.dkr.ecr/eks/kube-proxy:v1.30.0-eksbuild.3", "v1.30.0"),
    ],
)
def test_an_image_tag_names_a_version(image, version):
    assert image_version(image) == parse_version(version)


@pytest.mark.parametrize(
    "image",
    [
        "registry.k8s.io/kube-proxy@sha256:abcd",
        "localhost:5000/kube-proxy",
        "registry.k8s.io/kube-proxy:latest",
    ],
)
def test_an_image_without_a_version_tag_names_none(image):
    assert image_version(image) is None
