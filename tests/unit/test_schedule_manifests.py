"""A profile on a cron in the cluster: the manifests say what they must.

The builder is pure, so every field a CronJob depends on is checked here
on parsed YAML: the command the pod runs, the opt-in a destructive
profile carries, the history and concurrency limits, the reports volume
and the least-privilege role (every rule said why, no Secrets, no RBAC
writes). Bad input is one clear UsageError, never a manifest.
"""

import pytest
import yaml

from gauntlet.errors import UsageError
from gauntlet.images import RUNNER_IMAGE, RUNNER_PROJECT
from gauntlet.profiles import get_profile
from gauntlet.schedule.cron import check_cron, check_time_zone
from gauntlet.schedule.manifests import (
    ScheduleSpec,
    command_line,
    reader_pod,
    schedule_manifests,
    to_yaml,
)
from gauntlet.schedule.rbac import GAMEDAY_EXTRA, GATE_RULES, rules_for


def spec(profile="gate", cron="0 * * * *", **kw):
    return ScheduleSpec(get_profile(profile), cron, RUNNER_IMAGE, **kw)


def by_kind(manifests):
    return {m["kind"]: m for m in manifests}


def pod_of(manifests):
    cron = by_kind(manifests)["CronJob"]
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_gate_cronjob_runs_gauntlet_in_cluster_once_at_a_time():
    objs = by_kind(schedule_manifests(spec()))
    cron = objs["CronJob"]["spec"]
    assert cron["schedule"] == "0 * * * *"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["successfulJobsHistoryLimit"] == 3
    assert cron["failedJobsHistoryLimit"] == 3
    job = cron["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    assert job["activeDeadlineSeconds"] == 1800
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "kube-gauntlet-gate"
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == RUNNER_IMAGE
    assert container["command"] == ["gauntlet"]
    assert container["args"] == [
        "run",
        "--profile",
        "gate",
        "--in-cluster",
        "--context",
        "in-cluster",
        "--node-access",
        "pod",
    ]


def test_reports_go_to_the_claim_mounted_at_the_projects_reports():
    objs = by_kind(schedule_manifests(spec(storage="5Gi")))
    claim = objs["PersistentVolumeClaim"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert "storageClassName" not in claim["spec"]
    pod = pod_of(objs.values())
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert (
        volumes["reports"]["persistentVolumeClaim"]["claimName"]
        == (claim["metadata"]["name"])
    )
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"reports": f"{RUNNER_PROJECT}/reports", "tmp": "/tmp"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["KUBE_GAUNTLET_PROJECT"] == RUNNER_PROJECT
    assert env["KUBE_GAUNTLET_STATE"].startswith(f"{RUNNER_PROJECT}/reports/")


def test_a_storage_class_is_named_only_when_given():
    objs = by_kind(schedule_manifests(spec(storage_class="fast")))
    assert objs["PersistentVolumeClaim"]["spec"]["storageClassName"] == "fast"


def test_the_runner_is_nobody_on_a_read_only_root_without_privilege():
    manifests = schedule_manifests(spec())
    pod = pod_of(manifests)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == 65534
    assert "hostNetwork" not in pod
    security = pod["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    namespace = by_kind(manifests)["Namespace"]
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_host_network_drops_the_restricted_level_it_would_break():
    manifests = schedule_manifests(spec(host_network=True))
    assert pod_of(manifests)["hostNetwork"] is True
    labels = by_kind(manifests)["Namespace"]["metadata"]["labels"]
    assert "pod-security.kubernetes.io/enforce" not in labels


def test_the_service_account_is_bound_to_the_profiles_role():
    objs = by_kind(schedule_manifests(spec(namespace="ops")))
    binding = objs["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == objs["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "kube-gauntlet-gate",
            "namespace": "ops",
        }
    ]
    assert objs["ServiceAccount"]["metadata"]["namespace"] == "ops"


def test_the_gate_role_reads_no_secrets_and_writes_no_rbac_or_nodes():
    rules = by_kind(schedule_manifests(spec()))["ClusterRole"]["rules"]
    granted = {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert not [x for x in granted if x[1] == "secrets"]
    assert not [x for x in granted if "*" in x]
    assert not [
        x
        for x in granted
        if x[0] == "rbac.authorization.k8s.io" and x[2] != "list"
    ]
    nodes = {v for g, r, v in granted if r == "nodes"}
    assert nodes == {"get", "list", "watch"}
    assert ("", "pods/exec", "create") in granted  # node helper pods


def test_every_rule_says_why_in_the_yaml():
    text = to_yaml(schedule_manifests(spec("gameday", allow_destructive="x")))
    role = next(d for d in text.split("---\n") if "kind: ClusterRole\n" in d)
    lines = role.splitlines()
    items = [i for i, ln in enumerate(lines) if ln.startswith("- apiGroups:")]
    assert len(items) == len(GATE_RULES) + len(GAMEDAY_EXTRA)
    for i in items:
        assert lines[i - 1].startswith("# "), lines[i]
    assert all(rule.why for rule in rules_for("gameday"))


def test_the_yaml_is_the_manifests_without_anchors():
    manifests = schedule_manifests(spec())
    text = to_yaml(manifests, "generated by: me")
    assert text.startswith("# generated by: me\n")
    assert "&id" not in text and "*id" not in text
    assert list(yaml.safe_load_all(text)) == manifests


def test_a_gameday_carries_the_opt_in_naming_the_cluster():
    manifests = schedule_manifests(spec("gameday", allow_destructive="prod-eu"))
    args = pod_of(manifests)["containers"][0]["args"]
    assert args[args.index("--allow-destructive") + 1] == "prod-eu"
    assert args[args.index("--context") + 1] == "prod-eu"
    job = by_kind(manifests)["CronJob"]["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 10800
    assert pod_of(manifests)["terminationGracePeriodSeconds"] >= 300
    verbs = {
        (r["resources"][0], v)
        for r in by_kind(manifests)["ClusterRole"]["rules"]
        for v in r["verbs"]
    }
    assert ("nodes", "patch") in verbs and ("pods/eviction", "create") in verbs


def test_a_gameday_without_the_opt_in_is_refused():
    with pytest.raises(
        UsageError, match="destructive: pass --allow-destructive"
    ):
        schedule_manifests(spec("gameday"))


def test_an_opt_in_naming_another_cluster_is_refused():
    with pytest.raises(UsageError, match="names 'prod-eu' but the target"):
        schedule_manifests(
            spec("gameday", allow_destructive="prod-eu", context="staging")
        )


def test_a_keyword_narrows_the_run():
    args = pod_of(schedule_manifests(spec(keyword="arch_05")))["containers"][0][
        "args"
    ]
    assert args[-2:] == ["-k", "arch_05"]


def test_only_gate_and_gameday_can_be_scheduled():
    with pytest.raises(UsageError, match="only gate and gameday"):
        schedule_manifests(spec("load", allow_destructive="x"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("namespace", "Bad_NS", "namespace 'Bad_NS'"),
        ("storage", "1GB", "storage '1GB'"),
        ("deadline_s", 10, "deadline 10s"),
        ("time_zone", "Mars/Olympus", "time zone 'Mars/Olympus'"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(field, value, message):
    with pytest.raises(UsageError, match=message):
        schedule_manifests(spec(**{field: value}))


def test_a_time_zone_is_written_when_given():
    objs = by_kind(schedule_manifests(spec(time_zone="Europe/Berlin")))
    assert objs["CronJob"]["spec"]["timeZone"] == "Europe/Berlin"
    assert check_time_zone("UTC") == "UTC"


@pytest.mark.parametrize(
    "expr",
    [
        "0 3 * * 1",
        "*/15 * * * *",
        "0 9-17/2 * * mon-fri",
        "0 0 1,15 jan,jul ?",
        "  30   2 * * 0 ",
        "@weekly",
        "@HOURLY",
    ],
)
def test_cron_expressions_the_controller_takes_pass(expr):
    text = " ".join(expr.split())
    expected = text.lower() if text.startswith("@") else text
    assert check_cron(expr) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 3 * *", "4 field(s), expected 5"),
        ("", "0 field(s), expected 5"),
        ("0 0 3 * * 1", "6 field(s), expected 5"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 0 * *", "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 7", "day of week 7 is out of range 0-6"),
        ("0 0 * * funday", "day of week 'funday' is not a number"),
        ("5-1 * * * *", "minute range '5-1' runs backwards"),
        ("*/0 * * * *", "minute step '0' is not a number > 0"),
        ("@fortnightly", "unknown macro"),
        ("TZ=UTC 0 3 * * 1", "use --time-zone"),
    ],
)
def test_bad_cron_expressions_are_refused_clearly(expr, message):
    with pytest.raises(UsageError) as refused:
        check_cron(expr)
    assert message in str(refused.value)
    assert str(refused.value).startswith(f"cron schedule {expr!r}")


def test_the_reader_mounts_the_reports_read_only_without_credentials():
    pod = reader_pod(spec())
    assert pod["metadata"]["name"] == "kube-gauntlet-gate-reports"
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod["spec"]
    (mount,) = pod["spec"]["containers"][0]["volumeMounts"]
    assert mount["readOnly"] is True
    claim = pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == "kube-gauntlet-gate-reports"


def test_the_command_line_names_what_differs_from_the_defaults():
    line = command_line(
        spec("gameday", "0 3 * * 1", allow_destructive="prod", keyword="res_01")
    )
    assert line == (
        "gauntlet schedule print --profile gameday --cron '0 3 * * 1' "
        "--allow-destructive prod -k res_01"
    )
