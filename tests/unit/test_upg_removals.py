"""UPG-02's pure parts: the removed-API table, which of its rows a given
upgrade crosses, Helm release records and the deprecated-API gauge."""

import base64
import copy
import gzip
import json

import pytest

from gauntlet.checks.upg._deprecated_requests import deprecated_requests
from gauntlet.checks.upg._helm import (
    HelmDecodeError,
    decode_release,
    latest_revisions,
    parse_secret_name,
)
from gauntlet.checks.upg._removals import (
    TABLE_FILE,
    load_table,
    parse_table,
    removed_between,
    split_api_version,
)
from gauntlet.checks.upg._served import from_aggregated
from gauntlet.checks.upg.removed_apis import object_label
from gauntlet.errors import UsageError
from gauntlet.kube_version import parse_version

TABLE = load_table()
GUIDE = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"

# What the deprecation guide names for v1.16 .. v1.32:
# (removed in, removed group/version, kind, replacement).
GUIDE_REMOVALS = [
    ("v1.16", "extensions/v1beta1", "NetworkPolicy", "networking.k8s.io/v1"),
    ("v1.16", "extensions/v1beta1", "PodSecurityPolicy", "policy/v1beta1"),
    ("v1.16", "extensions/v1beta1", "DaemonSet", "apps/v1"),
    ("v1.16", "extensions/v1beta1", "Deployment", "apps/v1"),
    ("v1.16", "extensions/v1beta1", "ReplicaSet", "apps/v1"),
    ("v1.16", "apps/v1beta1", "Deployment", "apps/v1"),
    ("v1.16", "apps/v1beta1", "StatefulSet", "apps/v1"),
    ("v1.16", "apps/v1beta2", "DaemonSet", "apps/v1"),
    ("v1.16", "apps/v1beta2", "Deployment", "apps/v1"),
    ("v1.16", "apps/v1beta2", "ReplicaSet", "apps/v1"),
    ("v1.16", "apps/v1beta2", "StatefulSet", "apps/v1"),
    (
        "v1.22",
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
    (
        "v1.22",
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/v1",
    ),
    (
        "v1.22",
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        "apiextensions.k8s.io/v1",
    ),
    (
        "v1.22",
        "apiregistration.k8s.io/v1beta1",
        "APIService",
        "apiregistration.k8s.io/v1",
    ),
    (
        "v1.22",
        "authentication.k8s.io/v1beta1",
        "TokenReview",
        "authentication.k8s.io/v1",
    ),
    (
        "v1.22",
        "authorization.k8s.io/v1beta1",
        "SubjectAccessReview",
        "authorization.k8s.io/v1",
    ),
    (
        "v1.22",
        "certificates.k8s.io/v1beta1",
        "CertificateSigningRequest",
        "certificates.k8s.io/v1",
    ),
    ("v1.22", "coordination.k8s.io/v1beta1", "Lease", "coordination.k8s.io/v1"),
    ("v1.22", "extensions/v1beta1", "Ingress", "networking.k8s.io/v1"),
    ("v1.22", "networking.k8s.io/v1beta1", "Ingress", "networking.k8s.io/v1"),
    (
        "v1.22",
        "networking.k8s.io/v1beta1",
        "IngressClass",
        "networking.k8s.io/v1",
    ),
    (
        "v1.22",
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "v1.22",
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
    ),
    (
        "v1.22",
        "scheduling.k8s.io/v1beta1",
        "PriorityClass",
        "scheduling.k8s.io/v1",
    ),
    ("v1.22", "storage.k8s.io/v1beta1", "CSIDriver", "storage.k8s.io/v1"),
    ("v1.22", "storage.k8s.io/v1beta1", "CSINode", "storage.k8s.io/v1"),
    ("v1.22", "storage.k8s.io/v1beta1", "StorageClass", "storage.k8s.io/v1"),
    (
        "v1.22",
        "storage.k8s.io/v1beta1",
        "VolumeAttachment",
        "storage.k8s.io/v1",
    ),
    ("v1.25", "batch/v1beta1", "CronJob", "batch/v1"),
    (
        "v1.25",
        "discovery.k8s.io/v1beta1",
        "EndpointSlice",
        "discovery.k8s.io/v1",
    ),
    ("v1.25", "events.k8s.io/v1beta1", "Event", "events.k8s.io/v1"),
    (
        "v1.25",
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
    ),
    ("v1.25", "policy/v1beta1", "PodDisruptionBudget", "policy/v1"),
    ("v1.25", "policy/v1beta1", "PodSecurityPolicy", None),
    ("v1.25", "node.k8s.io/v1beta1", "RuntimeClass", "node.k8s.io/v1"),
    (
        "v1.26",
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1beta3",
    ),
    (
        "v1.26",
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
    ),
    (
        "v1.27",
        "storage.k8s.io/v1beta1",
        "CSIStorageCapacity",
        "storage.k8s.io/v1",
    ),
    (
        "v1.29",
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1beta3",
    ),
    (
        "v1.32",
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    (
        "v1.32",
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
]


def v(text):
    return parse_version(text)


def raw_table():
    from importlib import resources

    text = resources.files("gauntlet").joinpath(TABLE_FILE).read_text()
    return json.loads(text)


def table_with(change):
    """The packaged table's JSON with ``change`` applied to a copy."""
    doc = copy.deepcopy(raw_table())
    change(doc)
    return json.dumps(doc)


# -- the table -----------------------------------------------------------


def test_the_table_names_the_deprecation_guide_and_the_pinned_module():
    sources = " ".join(TABLE.sources.values())
    assert GUIDE in sources
    assert "k8s.io/api v0.37.2" in sources
    assert "prerelease-lifecycle" in sources


def test_every_entry_cites_a_source_the_table_names():
    for removal in TABLE.removals:
        assert removal.sources, removal.api_version
        assert set(removal.sources) <= set(TABLE.sources), removal


def test_every_entry_is_removed_in_a_minor_release_of_kubernetes_1():
    for removal in TABLE.removals:
        assert removal.removed_in.major == 1
        assert removal.removed_in.patch == 0
        assert 16 <= removal.removed_in.minor <= 50


def test_no_entry_is_replaced_by_the_version_it_removes():
    for removal in TABLE.removals:
        assert removal.replacement != removal.api_version


def test_replacements_are_group_versions():
    for removal in TABLE.removals:
        if removal.replacement is not None:
            group, version = split_api_version(removal.replacement)
            assert version.startswith("v"), removal.replacement


def test_each_kind_is_removed_from_a_group_version_only_once():
    seen = set()
    for removal in TABLE.removals:
        for kind in removal.kinds:
            key = (removal.api_version, kind)
            assert key not in seen, key
            seen.add(key)


@pytest.mark.parametrize(
    ("removed_in", "api_version", "kind", "replacement"),
    GUIDE_REMOVALS,
    ids=[f"{r[0]}-{r[1]}-{r[2]}" for r in GUIDE_REMOVALS],
)
def test_the_deprecation_guide_removals_are_in_the_table(
    removed_in, api_version, kind, replacement
):
    group, version = split_api_version(api_version)
    removal = TABLE.for_kind(group, version, kind)
    assert removal is not None, f"{api_version} {kind} missing"
    assert removal.removed_in.minor_name == removed_in
    assert removal.replacement == replacement
    assert "deprecation-guide" in removal.sources


def test_pod_security_policy_is_gone_without_replacement():
    removal = TABLE.for_kind("policy", "v1beta1", "PodSecurityPolicy")
    assert removal is not None
    assert removal.moves_to == "no replacement"


def test_a_table_that_is_not_json_is_a_clear_error():
    with pytest.raises(UsageError, match="not JSON"):
        parse_table("{removals: [", "bad.json")


def test_an_entry_without_a_source_is_refused_by_name():
    def drop(doc):
        doc["removals"][0]["sources"] = []

    with pytest.raises(UsageError, match=r"removals\[0\]: apps/v1beta1: no"):
        parse_table(table_with(drop))


def test_an_entry_citing_an_unknown_source_is_refused():
    def cite(doc):
        doc["removals"][1]["sources"] = ["a blog"]

    with pytest.raises(UsageError, match="unknown sources"):
        parse_table(table_with(cite))


def test_an_unparsable_removal_release_is_refused():
    def garble(doc):
        doc["removals"][0]["removed_in"] = "one-sixteen"

    with pytest.raises(UsageError, match="not a Kubernetes version"):
        parse_table(table_with(garble))


def test_a_replacement_equal_to_the_removed_version_is_refused():
    def loop(doc):
        doc["removals"][0]["replacement"] = "apps/v1beta1"

    with pytest.raises(UsageError, match="replacement is the removed"):
        parse_table(table_with(loop))


def test_kinds_must_map_to_resources_or_null():
    def break_kinds(doc):
        doc["removals"][0]["kinds"] = ["Deployment"]

    with pytest.raises(UsageError, match="kinds must map"):
        parse_table(table_with(break_kinds))


# -- removed_between -----------------------------------------------------


def names(removals):
    return sorted({(r.api_version, k) for r in removals for k in r.kinds})


def test_one_minor_step_crosses_only_that_release():
    crossed = removed_between(v("v1.36.3"), v("v1.37.2"), TABLE)
    assert {r.removed_in.minor_name for r in crossed} == {"v1.37"}
    assert ("networking.k8s.io/v1beta1", "ServiceCIDR") in names(crossed)
    assert ("storage.k8s.io/v1beta1", "VolumeAttributesClass") in names(crossed)


def test_the_current_release_removals_are_already_behind():
    crossed = removed_between(v("v1.37.0"), v("v1.38.1"), TABLE)
    assert all(r.removed_in.minor == 38 for r in crossed)
    assert ("storage.k8s.io/v1beta1", "VolumeAttributesClass") not in names(
        crossed
    )


def test_a_wider_span_includes_each_release_up_to_the_target():
    crossed = removed_between(v("v1.24.9"), v("v1.26.0"), TABLE)
    found = names(crossed)
    assert ("policy/v1beta1", "PodSecurityPolicy") in found
    assert ("autoscaling/v2beta2", "HorizontalPodAutoscaler") in found
    assert ("storage.k8s.io/v1beta1", "CSIStorageCapacity") not in found


def test_a_patch_upgrade_or_downgrade_crosses_nothing():
    assert removed_between(v("v1.37.0"), v("v1.37.2"), TABLE) == []
    assert removed_between(v("v1.37.2"), v("v1.36.3"), TABLE) == []


def test_a_removal_describes_itself_with_its_replacement():
    removal = TABLE.for_kind("batch", "v1beta1", "CronJob")
    assert removal is not None
    assert removal.describe() == (
        "batch/v1beta1 (removed in v1.25, replacement batch/v1)"
    )


def test_the_gauge_resource_finds_its_entry():
    removal = TABLE.for_resource("storage.k8s.io", "v1beta1", "csinodes")
    assert removal is not None and removal.removed_in.minor == 22
    removal = TABLE.for_resource(
        "storage.k8s.io", "v1beta1", "volumeattributesclasses"
    )
    assert removal is not None and removal.removed_in.minor == 37


# -- Helm release records -----------------------------------------------

MANIFEST = """---
# Source: shop/templates/ingress.yaml
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata:
  name: shop
  namespace: web
---
# Source: shop/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
---
apiVersion: v1
kind: List
items:
- apiVersion: policy/v1beta1
  kind: PodDisruptionBudget
  metadata:
    name: shop-pdb
"""


def helm_secret_data(release, gzipped=True):
    """``data.release`` as the API returns a Helm v3 record: base64 of
    Helm's base64 of gzip of the release JSON."""
    raw = json.dumps(release).encode()
    if gzipped:
        raw = gzip.compress(raw)
    return base64.b64encode(base64.b64encode(raw)).decode()


def release(**extra):
    return {
        "name": "shop",
        "namespace": "web",
        "version": 3,
        "info": {"status": "deployed"},
        "manifest": MANIFEST,
        **extra,
    }


def test_a_helm_release_decodes_to_its_rendered_objects():
    decoded = decode_release(helm_secret_data(release()))
    assert (decoded.name, decoded.namespace, decoded.revision) == (
        "shop",
        "web",
        3,
    )
    assert decoded.status == "deployed"
    assert [
        (o.api_version, o.kind, o.name, o.namespace) for o in decoded.objects
    ] == [
        ("networking.k8s.io/v1beta1", "Ingress", "shop", "web"),
        ("apps/v1", "Deployment", "shop", ""),
        ("policy/v1beta1", "PodDisruptionBudget", "shop-pdb", ""),
    ]
    assert decoded.label == "Helm release web/shop (revision 3)"


def test_hook_manifests_count_as_rendered_objects():
    hook = {
        "manifest": "apiVersion: batch/v1beta1\nkind: CronJob\n"
        "metadata: {name: nightly}\n"
    }
    decoded = decode_release(helm_secret_data(release(hooks=[hook])))
    assert ("batch/v1beta1", "CronJob") in [
        (o.api_version, o.kind) for o in decoded.objects
    ]


def test_an_uncompressed_release_decodes_too():
    decoded = decode_release(helm_secret_data(release(), gzipped=False))
    assert len(decoded.objects) == 3


def test_a_record_that_is_not_base64_is_a_decode_error():
    with pytest.raises(HelmDecodeError, match="not base64"):
        decode_release("%%% not base64 %%%")


def test_a_record_with_broken_gzip_is_a_decode_error():
    broken = gzip.compress(b'{"name": "x"}')[:12]
    data = base64.b64encode(base64.b64encode(broken)).decode()
    with pytest.raises(HelmDecodeError, match="not gzip"):
        decode_release(data)


def test_a_record_that_is_not_json_is_a_decode_error():
    data = base64.b64encode(base64.b64encode(gzip.compress(b"<xml/>")))
    with pytest.raises(HelmDecodeError, match="not JSON"):
        decode_release(data)


def test_a_manifest_that_is_not_yaml_is_a_decode_error():
    bad = release(manifest="kind: [unclosed\n")
    with pytest.raises(HelmDecodeError, match="not YAML"):
        decode_release(helm_secret_data(bad))


def test_helm_secret_names_give_release_and_revision():
    assert parse_secret_name("sh.helm.release.v1.my.app.v12") == (
        "my.app",
        12,
    )
    assert parse_secret_name("default-token-abc") is None


def test_only_the_newest_revision_of_each_release_is_read():
    names = [
        ("web", "sh.helm.release.v1.shop.v1"),
        ("web", "sh.helm.release.v1.shop.v10"),
        ("web", "sh.helm.release.v1.shop.v9"),
        ("ops", "sh.helm.release.v1.shop.v2"),
        ("ops", "odd-name"),
    ]
    assert latest_revisions(names) == [
        ("ops", "odd-name"),
        ("ops", "sh.helm.release.v1.shop.v2"),
        ("web", "sh.helm.release.v1.shop.v10"),
    ]


# -- the deprecated-API gauge -------------------------------------------


def series(group, version, resource, removed, sub=""):
    """One line of the gauge as an API server exposes it."""
    return (
        "apiserver_requested_deprecated_apis{"
        f'group="{group}",removed_release="{removed}",'
        f'resource="{resource}",subresource="{sub}",version="{version}"'
        "} 1"
    )


METRICS = "\n".join(
    [
        "# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of ...",
        "# TYPE apiserver_requested_deprecated_apis gauge",
        series("storage.k8s.io", "v1beta1", "volumeattributesclasses", "1.37"),
        series("", "v1", "componentstatuses", ""),
        series(
            "resource.k8s.io", "v1beta1", "resourceclaims", "1.38", "status"
        ),
        'apiserver_request_total{code="200",verb="GET"} 12',
    ]
)


def test_the_gauge_lines_parse_into_requests():
    found = deprecated_requests(METRICS)
    assert [(r.api_version, r.what, r.removed_release) for r in found] == [
        ("resource.k8s.io/v1beta1", "resourceclaims/status", "1.38"),
        ("storage.k8s.io/v1beta1", "volumeattributesclasses", "1.37"),
        ("v1", "componentstatuses", ""),
    ]


def test_a_request_counts_when_the_target_or_an_earlier_release_removes_it():
    by_resource = {r.resource: r for r in deprecated_requests(METRICS)}
    assert by_resource["volumeattributesclasses"].removed_by(v("v1.37.2"))
    assert by_resource["volumeattributesclasses"].removed_by(v("v1.40.0"))
    assert not by_resource["resourceclaims"].removed_by(v("v1.37.2"))
    assert not by_resource["componentstatuses"].removed_by(v("v1.99.0"))


def test_objects_are_named_by_kind_namespace_and_name():
    assert object_label("Deployment", {"namespace": "shop", "name": "web"}) == (
        "Deployment shop/web"
    )
    assert object_label("ClusterRole", {"name": "admin"}) == "ClusterRole admin"


# -- what the cluster serves (aggregated discovery) ---------------------


def discovery_doc(group, versions):
    """An ``APIGroupDiscoveryList`` with one group; ``versions`` maps each
    version (preferred first) to (kind, resource, verbs) triples."""
    return {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {"name": group} if group else {},
                "versions": [
                    {
                        "version": version,
                        **({"freshness": "Stale"} if stale else {}),
                        "resources": [
                            {
                                "resource": resource,
                                "responseKind": {"kind": kind},
                                "scope": "Cluster",
                                "verbs": verbs,
                            }
                            for kind, resource, verbs in resources
                        ],
                    }
                    for version, (stale, resources) in versions.items()
                ],
            }
        ],
    }


def test_aggregated_discovery_gives_resources_and_preferred_versions():
    vac = ("VolumeAttributesClass", "volumeattributesclasses", ["list"])
    served = from_aggregated(
        [
            discovery_doc("", {"v1": (False, [("Pod", "pods", ["list"])])}),
            discovery_doc(
                "storage.k8s.io",
                {"v1": (False, [vac]), "v1beta1": (False, [vac])},
            ),
        ]
    )
    assert served.preferred == {"": "v1", "storage.k8s.io": "v1"}
    old = served.find("storage.k8s.io", "v1beta1", "VolumeAttributesClass")
    assert old is not None and old.path == (
        "/apis/storage.k8s.io/v1beta1/volumeattributesclasses"
    )
    assert [r.label for r in served.preferred_listable()] == [
        "pods.v1",
        "volumeattributesclasses.v1.storage.k8s.io",
    ]


def test_a_stale_aggregated_version_is_named_unavailable():
    served = from_aggregated(
        [discovery_doc("metrics.k8s.io", {"v1beta1": (True, [])})]
    )
    assert served.unavailable == {
        "metrics.k8s.io/v1beta1": "stale in aggregated discovery"
    }
