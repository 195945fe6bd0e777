"""The conformance profile's pure logic: modes, spec reports, progress,
images set aside, allure entries and the run's options."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from gauntlet.checks.conformance.specs import Settings
from gauntlet.cli.conformance_args import (
    conformance_environment,
    conformance_profile,
)
from gauntlet.conformance import binary, images, modes, results, specs
from gauntlet.conformance.runner import Progress, RunRequest
from gauntlet.errors import Unobservable, UsageError
from gauntlet.profiles import get_profile


def entry(name: str, state: str = "passed", **extra: object) -> dict:
    sig, _, rest = name.partition("] ")
    container, _, leaf = rest.partition(" should ")
    return {
        "ContainerHierarchyTexts": [f"{sig}] {container}"],
        "ContainerHierarchyLabels": [[sig.lstrip("[")]],
        "LeafNodeType": "It",
        "LeafNodeText": f"should {leaf}",
        "LeafNodeLabels": ["Conformance"],
        "State": state,
        "StartTime": "2026-12-01T10:00:00Z",
        "EndTime": "2026-12-01T10:00:02Z",
        "RunTime": 2_000_000_000,
        **extra,
    }


def report(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps([{"SpecReports": list(entries)}]))
    return path


# -- modes ---------------------------------------------------------------


def test_non_disruptive_leaves_out_serial_and_disruptive_specs():
    chosen = modes.selection("non-disruptive")
    assert chosen.ginkgo_args() == [
        "--label-filter=Conformance && !Serial && !Disruptive"
    ]
    assert not chosen.destructive


def test_certified_runs_every_conformance_spec_and_is_destructive():
    chosen = modes.selection("certified")
    assert chosen.ginkgo_args() == ["--label-filter=Conformance"]
    assert chosen.destructive


def test_quick_focuses_each_quick_spec_by_its_literal_name():
    args = modes.selection("quick").ginkgo_args()
    focus = [a for a in args if a.startswith("--focus=")]
    assert len(focus) == len(modes.QUICK_SPECS)
    assert (
        "--focus=\\[sig-node\\] Pods should be submitted and removed "
        "\\[Conformance\\]"
    ) in focus


def test_go_literal_escapes_re2_specials_but_not_spaces():
    assert modes.go_literal("a [b] (c).d* e") == "a \\[b\\] \\(c\\)\\.d\\* e"


def test_an_unknown_mode_lists_the_modes():
    with pytest.raises(UsageError, match="quick, non-disruptive, certified"):
        modes.check_mode("fast")


# -- the binary ----------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "release"),
    [
        ("v1.37.2", "v1.37.2"),
        ("v1.31.4-eks-5da3bd0", "v1.31.4"),
        ("v1.30.1+k3s1", "v1.30.1"),
    ],
)
def test_a_server_version_runs_the_specs_of_its_upstream_release(
    server, release
):
    assert binary.release_of(server) == release


def test_a_version_without_a_release_cannot_choose_specs():
    with pytest.raises(Unobservable, match="names no upstream release"):
        binary.release_of("master")


def test_the_e2e_recipe_builds_ginkgo_kubectl_and_the_test_binary():
    recipe = binary.e2e_build("v1.36.3")
    assert recipe.test_packages == ("k8s.io/kubernetes/test/e2e",)
    assert "github.com/onsi/ginkgo/v2/ginkgo" in recipe.packages
    assert recipe.local_version is not None
    assert recipe.local_version("k8s.io/api") == "v0.36.3"
    assert "gitVersion=v1.36.3" in recipe.ldflags
    assert "test_packages" in json.loads(recipe.stamp)


# -- reports -------------------------------------------------------------


def test_a_report_gives_each_spec_its_name_sig_and_outcome(tmp_path):
    failure = {
        "Message": "service is not reachable\nmore",
        "Location": {"FileName": "service.go", "LineNumber": 769},
    }
    path = report(
        tmp_path,
        entry("[sig-node] Pods should be submitted and removed"),
        entry(
            "[sig-network] Services should serve a basic endpoint",
            "failed",
            Failure=failure,
        ),
        {"LeafNodeType": "SynchronizedBeforeSuite", "State": "passed"},
    )
    found = specs.read_report(path)
    assert [r.spec.sig for r in found] == ["sig-node", "sig-network"]
    assert found[0].passed and found[0].seconds == 2.0
    assert found[1].ran and not found[1].passed
    assert found[1].message.startswith("service is not reachable")
    assert found[1].location == "service.go:769"
    assert specs.suite_failures(path) == []


def test_a_failed_suite_set_up_is_reported(tmp_path):
    path = report(
        tmp_path,
        {
            "LeafNodeType": "SynchronizedBeforeSuite",
            "State": "failed",
            "Failure": {"Message": "nodes not ready"},
        },
    )
    assert specs.suite_failures(path) == [
        "SynchronizedBeforeSuite: nodes not ready"
    ]


def test_a_missing_report_is_unobservable_not_a_pass(tmp_path):
    with pytest.raises(Unobservable, match="ginkgo report"):
        specs.read_report(tmp_path / "none.json")


# -- progress ------------------------------------------------------------


def test_progress_counts_dots_as_they_arrive_and_names_failures():
    counted = Progress(total=3)
    assert counted.feed("SSS•SS") == []
    assert counted.done == 1
    assert counted.feed("S•\n---\n• [FAILED] [12.0 seconds]\n[sig-x] A") == []
    assert counted.feed(" spec\nmore\n") == ["[sig-x] A spec"]
    assert counted.done == 3
    assert counted.failed == ["[sig-x] A spec"]
    assert counted.line(90) == (
        "conformance: 3/3 specs done, 1 failed, 1.5 min"
    )


# -- images --------------------------------------------------------------


def test_a_mirror_becomes_the_e2e_suites_repo_list(tmp_path):
    listed = images.repo_list("mirror.local:5000/k8s")
    assert (
        listed["promoterE2eRegistry"] == "mirror.local:5000/k8s/e2e-test-images"
    )
    assert listed["gcRegistry"] == "mirror.local:5000/k8s"
    assert listed["sigStorageRegistry"] == "mirror.local:5000/k8s/sig-storage"
    path = images.write_repo_list("mirror.local:5000/k8s", tmp_path / "r.yaml")
    assert yaml.safe_load(path.read_text()) == listed


def test_a_bad_mirror_is_refused():
    with pytest.raises(UsageError):
        images.repo_list("ftp://mirror")


def test_specs_whose_image_no_node_holds_are_set_aside_naming_it():
    nginx = "registry.k8s.io/e2e-test-images/nginx:1.27.0-2"
    uses_nginx = specs.Spec("[sig-apps] A uses nginx", "sig-apps", ())
    plain = specs.Spec("[sig-node] B", "sig-node", ())
    needs = {uses_nginx.name: (nginx,)}
    aside = images.set_aside([uses_nginx, plain], set(), None, needs)
    assert [(a.spec, a.reason) for a in aside] == [
        (uses_nginx, f"image on no node: {nginx}")
    ]
    assert images.set_aside([uses_nginx], {nginx}, None, needs) == []
    mirrored = "m.local/e2e-test-images/nginx:1.27.0-2"
    assert images.set_aside([uses_nginx], {mirrored}, "m.local", needs) == []


def test_a_spec_that_always_pulls_is_set_aside_on_a_cluster_that_cannot():
    pulls = specs.Spec("[sig-node] ImageVolume pulls", "sig-node", ())
    aside = images.set_aside([pulls], set(), None, {}, {pulls.name})
    assert [a.reason for a in aside] == [
        "pulls its image (imagePullPolicy: Always)"
    ]


def test_the_packaged_table_names_upstream_images():
    for name, needed in images.spec_images().items():
        assert name.startswith("[sig-"), name
        for image in needed:
            assert image.startswith("registry.k8s.io/"), image
    assert all(n.startswith("[sig-") for n in images.always_pulling())


# -- allure entries ------------------------------------------------------


def test_each_spec_becomes_an_allure_entry_grouped_by_sig(tmp_path):
    path = report(
        tmp_path,
        entry("[sig-node] Pods should run"),
        entry(
            "[sig-network] DNS should resolve",
            "failed",
            Failure={"Message": "no answer"},
        ),
    )
    ran = specs.read_report(path)
    aside = [
        images.SetAside(
            specs.Spec("[sig-apps] X", "sig-apps", ()), "image on no node: y"
        )
    ]
    out = tmp_path / "allure"
    out.mkdir()
    assert results.write_allure_results(out, ran, aside, "quick") == 3
    written = [json.loads(p.read_text()) for p in out.glob("*-result.json")]
    by_name = {w["name"]: w for w in written}
    assert by_name["[sig-network] DNS should resolve"]["status"] == "failed"
    assert by_name["[sig-apps] X"]["status"] == "skipped"
    labels = {
        (lab["name"], lab["value"])
        for lab in by_name["[sig-node] Pods should run"]["labels"]
    }
    assert ("suite", "sig-node") in labels
    assert ("guarantee", "CONF-01") in labels
    assert ("parentSuite", results.PARENT_SUITE) in labels


# -- the run's options ---------------------------------------------------


def options(**given: object) -> argparse.Namespace:
    base = {
        "mode": None,
        "procs": None,
        "no_pull": False,
        "skip_spec": [],
        "allow_destructive": None,
    }
    return argparse.Namespace(**{**base, **given})


def test_certified_mode_makes_the_profile_need_the_opt_in():
    profile = get_profile("conformance")
    assert not conformance_profile(profile, options()).destructive
    certified = options(mode="certified", allow_destructive="lab")
    assert conformance_profile(profile, certified).destructive
    with pytest.raises(UsageError, match="runs \\[Disruptive\\] specs"):
        conformance_profile(profile, options(mode="certified"))


def test_conformance_options_with_another_profile_are_refused():
    with pytest.raises(UsageError, match="--mode, --procs: only for"):
        conformance_profile(get_profile("gate"), options(mode="quick", procs=2))


def test_a_process_count_below_one_is_refused():
    with pytest.raises(UsageError, match="at least 1"):
        conformance_profile(get_profile("conformance"), options(procs=0))


def test_the_lab_pulls_nothing_and_the_suite_is_told():
    profile = get_profile("conformance")
    env = conformance_environment(options(procs=2), profile, lab=True)
    settings = Settings.from_env(env)
    assert settings == Settings(mode="non-disruptive", procs=2, no_pull=True)
    assert conformance_environment(options(), get_profile("gate"), True) == {}


def test_specs_set_aside_by_the_user_and_by_the_lab_reach_the_suite():
    profile = get_profile("conformance")
    lab_says = {"[sig-node] B": "the lab's image differs"}
    mine = options(skip_spec=["[sig-node] A"])
    settings = Settings.from_env(
        conformance_environment(
            mine, profile, lab=True, lab_differences=lab_says
        )
    )
    assert settings.skips == {
        "[sig-node] A": "skipped with --skip-spec",
        "[sig-node] B": "the lab's image differs",
    }
    elsewhere = conformance_environment(
        options(), profile, lab=False, lab_differences=lab_says
    )
    assert Settings.from_env(elsewhere).skips == {}


def test_a_request_passes_the_target_and_the_mirror_to_the_suite(tmp_path):
    tools = binary.E2eTools(
        e2e=Path("/c/e2e.test"),
        ginkgo=Path("/c/ginkgo"),
        kubectl=Path("/c/kubectl"),
        version="v1.37.2",
    )
    request = RunRequest(
        tools=tools,
        kubeconfig=Path("/k/config"),
        context="prod",
        selection=modes.selection("non-disruptive"),
        skip=("[sig-apps] X (y)",),
        out_dir=tmp_path,
        procs=3,
        repo_list=tmp_path / "repo.yaml",
    )
    argv = request.ginkgo_argv()
    assert argv[0] == "/c/ginkgo" and "--procs=3" in argv
    assert "--skip=\\[sig-apps\\] X \\(y\\)" in argv
    tail = argv[argv.index("--") + 1 :]
    assert "--kubeconfig=/k/config" in tail and "--context=prod" in tail
    assert "--kubectl-path=/c/kubectl" in tail
    assert "--procs=1" in request.ginkgo_argv(dry_run=True)
    assert request.environment() == {
        "KUBE_TEST_REPO_LIST": str(tmp_path / "repo.yaml")
    }


def test_a_failed_suite_set_up_is_a_violation_even_with_no_spec_run():
    from gauntlet.checks.conformance.specs import STEP, _judge
    from gauntlet.checks.context import CheckContext
    from gauntlet.errors import GuaranteeViolated

    ctx = CheckContext(cluster=None, topology=None, namespace="", images=None)  # type: ignore[arg-type]
    _judge(ctx, [], ["SynchronizedBeforeSuite: nodes not ready"], 1)
    with pytest.raises(GuaranteeViolated, match="nodes not ready"):
        ctx.conclude(STEP)


def test_ginkgo_failing_with_every_spec_passed_is_a_violation(tmp_path):
    from gauntlet.checks.conformance.specs import STEP, _judge
    from gauntlet.checks.context import CheckContext
    from gauntlet.errors import GuaranteeViolated

    ran = specs.read_report(report(tmp_path, entry("[sig-node] A should b")))
    ctx = CheckContext(cluster=None, topology=None, namespace="", images=None)  # type: ignore[arg-type]
    _judge(ctx, ran, [], 2)
    with pytest.raises(GuaranteeViolated, match="ginkgo exited 2"):
        ctx.conclude(STEP)
