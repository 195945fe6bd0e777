"""The in-cluster worker Job: what each of its manifests says."""

from __future__ import annotations

import pytest
import yaml

from gauntlet.errors import UsageError
from gauntlet.images import RUNNER_IMAGE, runner_image
from gauntlet.load.credentials import (
    ENV_CONTEXT,
    ENV_IN_CLUSTER,
    ENV_KUBECONFIG,
)
from gauntlet.load.in_cluster import (
    LOCUSTFILE,
    WorkerJob,
    in_cluster_env,
    to_yaml,
    worker_manifests,
)
from gauntlet.load.runner import ENV_NAMESPACE, ENV_SCENARIO
from gauntlet.wellknown import MANAGED_BY, RUN_LABEL


def _job(**overrides: object) -> WorkerJob:
    fields: dict[str, object] = {
        "name": "kg-load-workers",
        "namespace": "kg-load-abc",
        "workers": 3,
        "master_host": "10.0.0.5",
        "master_port": 5557,
        "image": RUNNER_IMAGE,
        "run_id": "run/42",
        "env": {
            ENV_KUBECONFIG: "/home/me/.kube/config",
            ENV_CONTEXT: "prod",
            ENV_NAMESPACE: "kg-load-abc",
            ENV_SCENARIO: "read-heavy",
        },
    }
    fields.update(overrides)
    return WorkerJob(**fields)  # type: ignore[arg-type]


def _by_kind(job: WorkerJob) -> dict[str, dict]:
    return {m["kind"]: m for m in worker_manifests(job)}


def test_the_job_runs_n_pods_at_once_with_no_retry_and_a_deadline():
    spec = _by_kind(_job(deadline_s=900))["Job"]["spec"]

    assert spec["parallelism"] == spec["completions"] == 3
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 900
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_workers_run_the_locustfile_against_the_master_from_env():
    pod = _by_kind(_job())["Job"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}

    assert container["image"] == RUNNER_IMAGE
    assert container["command"] == ["python3", "-m", "locust"]
    args = container["args"]
    assert args[:3] == ["-f", LOCUSTFILE, "--worker"]
    host = args[args.index("--master-host") + 1]
    port = args[args.index("--master-port") + 1]
    assert env[host.strip("$()")] == "10.0.0.5"
    assert env[port.strip("$()")] == "5557"
    assert LOCUSTFILE.endswith("/site-packages/gauntlet/load/users.py")


def test_workers_use_their_service_account_not_the_runners_kubeconfig():
    pod = _by_kind(_job())["Job"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}

    assert env[ENV_IN_CLUSTER] == "1"
    assert ENV_KUBECONFIG not in env and ENV_CONTEXT not in env
    assert env[ENV_NAMESPACE] == "kg-load-abc"
    assert env[ENV_SCENARIO] == "read-heavy"
    assert pod["serviceAccountName"] == "kg-load-workers"


def test_in_cluster_env_swaps_only_the_credential_source():
    env = in_cluster_env({ENV_KUBECONFIG: "/k", "KG_LOAD_X": "1"})

    assert env == {"KG_LOAD_X": "1", ENV_IN_CLUSTER: "1"}


def test_rbac_allows_configmaps_in_the_namespace_and_listing_pods_only():
    kinds = _by_kind(_job())
    role, cluster_role = kinds["Role"], kinds["ClusterRole"]

    assert role["metadata"]["namespace"] == "kg-load-abc"
    assert [r["resources"] for r in role["rules"]] == [["configmaps"]]
    assert "delete" in role["rules"][0]["verbs"]
    assert cluster_role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
    ]
    for binding, ref in (
        (kinds["RoleBinding"], role),
        (kinds["ClusterRoleBinding"], cluster_role),
    ):
        assert binding["roleRef"]["name"] == ref["metadata"]["name"]
        assert binding["subjects"] == [
            {
                "kind": "ServiceAccount",
                "name": "kg-load-workers",
                "namespace": "kg-load-abc",
            }
        ]


def test_cluster_scoped_objects_are_named_per_namespace():
    a = _by_kind(_job(namespace="kg-load-a"))["ClusterRole"]
    b = _by_kind(_job(namespace="kg-load-b"))["ClusterRole"]

    assert a["metadata"]["name"] != b["metadata"]["name"]
    assert "namespace" not in a["metadata"]


def test_every_object_and_pod_carries_the_labels_recover_looks_for():
    manifests = worker_manifests(_job())
    pod = manifests[-1]["spec"]["template"]

    for labels in [m["metadata"]["labels"] for m in manifests] + [
        pod["metadata"]["labels"]
    ]:
        assert MANAGED_BY.items() <= labels.items()
        assert labels[RUN_LABEL] == "run-42"


def test_the_objects_are_created_in_dependency_order():
    kinds = [m["kind"] for m in worker_manifests(_job())]

    assert kinds == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Job",
    ]


def test_the_worker_is_confined_and_bounded():
    pod = _by_kind(_job(cpu="2", memory="1Gi"))["Job"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    sc = container["securityContext"]

    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "1Gi"}
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "hostNetwork" not in pod["spec"]


def test_host_network_is_opt_in_and_keeps_cluster_dns():
    spec = _by_kind(_job(host_network=True))["Job"]["spec"]["template"]["spec"]

    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("workers", 0, "not >= 1"),
        ("master_port", 0, "master port"),
        ("master_host", "0.0.0.0", "address of the runner"),
        ("deadline_s", 0, "deadline"),
    ],
)
def test_a_job_that_cannot_work_is_refused(field, value, words):
    with pytest.raises(UsageError, match=words):
        _job(**{field: value})


def test_the_yaml_is_what_kubectl_applies():
    manifests = worker_manifests(_job())

    assert list(yaml.safe_load_all(to_yaml(manifests))) == manifests


def test_the_runner_image_follows_the_mirror_and_its_override():
    assert runner_image(environ={}) == RUNNER_IMAGE
    assert runner_image("mirror.example.com:5000/k8s", environ={}) == (
        f"mirror.example.com:5000/k8s/kube-gauntlet/runner:"
        f"{RUNNER_IMAGE.rsplit(':', 1)[1]}"
    )
    mine = {"KUBE_GAUNTLET_RUNNER_IMAGE": "me/runner:1"}
    assert runner_image("m.example.com", environ=mine) == "me/runner:1"
