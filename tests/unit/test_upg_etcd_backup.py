"""UPG-03's pure parts: how keys group into resources, how a restored
keyspace is judged against the live one, and how etcd's and etcdutl's
answers and a snapshot file's own checksum are read."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from gauntlet.checks.upg._backup_keyspace import (
    GONE_TOLERANCE_MIN,
    ValueSample,
    count_by_prefix,
    gone_tolerance,
    judge_after_compaction,
    judge_at_revision,
    judge_values,
    resource_prefix,
    sample_keys,
)
from gauntlet.errors import UsageError
from gauntlet.gobuild.etcd import etcd_build, etcd_tag
from gauntlet.lab.build import etcd_build as lab_etcd_build
from gauntlet.lab.versions import CURRENT
from gauntlet.observe.etcd.keyspace import KeyMeta, parse_page, prefix_end
from gauntlet.observe.etcd.scratch import parse_status
from gauntlet.observe.etcd.snapshot import (
    checksum_problem,
    member_state,
    remote_path,
)


def meta(key: str, create: int = 5, mod: int | None = None, version: int = 1):
    return KeyMeta(key, create, create if mod is None else mod, version)


# -- resource prefixes ---------------------------------------------------


def test_a_core_key_belongs_to_its_resource():
    assert resource_prefix("/registry/pods/default/web-1") == "/registry/pods"
    assert resource_prefix("/registry/namespaces/default") == (
        "/registry/namespaces"
    )


def test_a_key_of_a_dotted_group_keeps_group_and_resource():
    key = "/registry/apiregistration.k8s.io/apiservices/v1.apps"
    assert resource_prefix(key) == (
        "/registry/apiregistration.k8s.io/apiservices"
    )
    crd = "/registry/example.com/widgets/default/w"
    assert resource_prefix(crd) == "/registry/example.com/widgets"


def test_a_key_outside_the_layout_is_its_own_prefix():
    assert resource_prefix("compact_rev_key") == "compact_rev_key"
    assert resource_prefix("/registry/ranges") == "/registry/ranges"


def test_keys_are_counted_per_resource():
    counts = count_by_prefix(
        [
            "/registry/pods/a/x",
            "/registry/pods/b/y",
            "/registry/secrets/a/s",
            "/registry/apps.example.com/things/t",
        ]
    )
    assert counts == {
        "/registry/apps.example.com/things": 1,
        "/registry/pods": 2,
        "/registry/secrets": 1,
    }


# -- sampling ------------------------------------------------------------


def test_a_sample_takes_from_every_prefix_before_a_second_from_any():
    keys = [f"/registry/pods/ns/p{i:03}" for i in range(100)]
    keys += ["/registry/secrets/ns/s", "/registry/leases/ns/l"]
    picked = sample_keys(keys, 5)
    assert len(picked) == 5
    assert "/registry/secrets/ns/s" in picked
    assert "/registry/leases/ns/l" in picked
    assert len(set(picked)) == 5


def test_a_sample_spreads_within_a_prefix():
    keys = [f"/registry/pods/ns/p{i:03}" for i in range(100)]
    picked = sample_keys(keys, 4)
    assert picked == [
        "/registry/pods/ns/p012",
        "/registry/pods/ns/p037",
        "/registry/pods/ns/p062",
        "/registry/pods/ns/p087",
    ]


def test_a_sample_spreads_over_more_prefixes_than_it_can_take():
    keys = [f"/registry/r{i:02}/ns/x" for i in range(40)]
    picked = sample_keys(keys, 4)
    assert [resource_prefix(k) for k in picked] == [
        "/registry/r05",
        "/registry/r15",
        "/registry/r25",
        "/registry/r35",
    ]


def test_a_sample_is_never_larger_than_the_keys():
    assert sample_keys(["/registry/pods/a/b"], 20) == ["/registry/pods/a/b"]
    assert sample_keys([], 20) == []


# -- judging at the snapshot's revision ----------------------------------


def test_the_same_keyspace_at_the_revision_passes():
    keys = [meta("/registry/pods/a/x"), meta("/registry/secrets/a/s", 7)]
    judged = judge_at_revision(keys, list(keys), 10)
    assert judged.findings == ()
    assert judged.counts == {
        "/registry/pods": (1, 1),
        "/registry/secrets": (1, 1),
    }


def test_a_key_missing_from_the_snapshot_is_named_with_its_prefix():
    live = [meta("/registry/pods/a/x"), meta("/registry/pods/a/y")]
    judged = judge_at_revision(live[:1], live, 10)
    (finding,) = judged.findings
    assert finding.startswith("/registry/pods: 1 keys restored")
    assert "2 on the live cluster at revision 10" in finding
    assert "missing from the snapshot: /registry/pods/a/y" in finding


def test_a_key_the_live_cluster_never_had_at_the_revision_is_named():
    live = [meta("/registry/pods/a/x")]
    judged = judge_at_revision([*live, meta("/registry/pods/a/z")], live, 10)
    (finding,) = judged.findings
    assert "not on the live cluster: /registry/pods/a/z" in finding


def test_a_key_with_another_mod_revision_is_named():
    judged = judge_at_revision(
        [meta("/registry/pods/a/x", 5, 6)],
        [meta("/registry/pods/a/x", 5, 8)],
        10,
    )
    (finding,) = judged.findings
    assert "/registry/pods/a/x (mod_revision 6 restored, 8 live)" in finding


def test_a_finding_names_five_keys_and_counts_the_rest():
    live = [meta(f"/registry/pods/a/p{i}") for i in range(8)]
    (finding,) = judge_at_revision([], live, 10).findings
    assert "and 3 more" in finding


# -- judging after the revision was compacted ----------------------------


def test_after_compaction_a_key_older_than_the_snapshot_must_be_in_it():
    live = [meta("/registry/pods/a/old", 5), meta("/registry/pods/a/new", 20)]
    judged = judge_after_compaction([], live, 10, 30)
    (finding,) = judged.findings
    assert "created at or before revision 10" in finding
    assert "/registry/pods/a/old" in finding
    assert "/registry/pods/a/new" not in finding


def test_after_compaction_keys_written_since_are_not_judged_on_revisions():
    restored = [meta("/registry/pods/a/x", 5, 9)]
    live = [meta("/registry/pods/a/x", 5, 25, 3)]
    judged = judge_after_compaction(restored, live, 10, 30)
    assert judged.findings == ()


def test_after_compaction_an_unchanged_key_must_match_exactly():
    restored = [meta("/registry/pods/a/x", 5, 9)]
    live = [meta("/registry/pods/a/x", 5, 8)]
    (finding,) = judge_after_compaction(restored, live, 10, 30).findings
    assert "unchanged since revision 10" in finding


def test_after_compaction_a_few_deletions_are_a_note_never_silent():
    restored = [meta(f"/registry/events/a/e{i}") for i in range(100)]
    judged = judge_after_compaction(restored, restored[5:], 10, 30)
    assert judged.findings == ()
    assert judged.notes[0].startswith("revision 10 was compacted")
    assert "5 of 100 restored key(s) gone" in judged.notes[1]


def test_after_compaction_too_many_deletions_are_a_finding():
    restored = [meta(f"/registry/pods/a/p{i:03}") for i in range(300)]
    judged = judge_after_compaction(restored, restored[:200], 10, 30)
    (finding,) = judged.findings
    assert "100 of 300 restored key(s) gone" in finding
    assert "more than the 30 tolerated" in finding


def test_the_deletion_tolerance_has_a_floor():
    assert gone_tolerance(3) == GONE_TOLERANCE_MIN
    assert gone_tolerance(1000) == 100


# -- values --------------------------------------------------------------


def test_equal_values_pass_and_differing_bytes_are_named():
    m = meta("/registry/secrets/a/s")
    same = ValueSample(m.key, (m, b"abc"), (m, b"abc"))
    other = ValueSample(m.key, (m, b"abc"), (m, b"abd"))
    assert judge_values([same], 10) == []
    (finding,) = judge_values([other], 10)
    assert finding.startswith("/registry/secrets/a/s: value differs")


def test_a_sampled_key_absent_on_one_side_is_named():
    m = meta("/registry/pods/a/x")
    (gone,) = judge_values([ValueSample(m.key, None, (m, b"v"))], 10)
    assert "absent from the snapshot" in gone
    (extra,) = judge_values([ValueSample(m.key, (m, b"v"), None)], 10)
    assert "absent from the live cluster at revision 10" in extra


# -- etcd's and etcdutl's answers ----------------------------------------


def test_snapshot_status_is_read_from_etcdutl_json():
    status = parse_status(
        '{"hash":2942912967,"revision":33,"totalKey":30,'
        '"totalSize":24576,"version":"3.7.0"}'
    )
    assert (status.hash, status.revision) == (2942912967, 33)
    assert (status.total_keys, status.total_size) == (30, 24576)
    assert status.storage_version == "3.7.0"


def test_a_status_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="not a snapshot status"):
        parse_status('{"error": "boom"}')


def test_a_member_state_names_id_version_and_revision():
    text = json.dumps(
        [
            {
                "Endpoint": "https://10.0.0.2:2379",
                "Status": {
                    "header": {
                        "member_id": 255,
                        "revision": 812,
                        "raft_term": 2,
                    },
                    "version": "3.7.3",
                },
            }
        ]
    )
    state = member_state(text)
    assert (state.member_id, state.version, state.revision) == (
        "ff",
        "3.7.3",
        812,
    )


def test_a_get_page_decodes_keys_and_values():
    page = parse_page(
        json.dumps(
            {
                "header": {"revision": 40},
                "kvs": [
                    {
                        "key": base64.b64encode(b"/registry/pods/a/x").decode(),
                        "create_revision": 3,
                        "mod_revision": 9,
                        "version": 2,
                        "value": base64.b64encode(b"\x00k8s").decode(),
                    }
                ],
                "more": True,
            }
        )
    )
    assert page.revision == 40 and page.more
    assert page.kvs == (KeyMeta("/registry/pods/a/x", 3, 9, 2),)
    assert page.values == (b"\x00k8s",)


def test_a_prefix_ends_where_its_last_byte_is_one_higher():
    assert prefix_end("/registry") == "/registrz"
    assert prefix_end("/registry/") == "/registry0"


def test_the_node_file_carries_the_run_name_made_safe():
    assert remote_path("20261202T000000Z-abc123") == (
        "/var/tmp/kube-gauntlet-20261202T000000Z-abc123.etcd-snapshot.db"
    )
    assert remote_path("../../etc/x y") == (
        "/var/tmp/kube-gauntlet-etc-x-y.etcd-snapshot.db"
    )


# -- a snapshot file's own checksum ------------------------------------


def snapshot_file(tmp_path, pages: int = 4):
    data = bytes(range(256)) * 16 * pages  # whole 4 KiB pages
    path = tmp_path / "s.db"
    path.write_bytes(data + hashlib.sha256(data).digest())
    return path


def test_a_whole_snapshot_matches_its_appended_sha256(tmp_path):
    assert checksum_problem(snapshot_file(tmp_path)) == ""


def test_a_truncated_snapshot_is_not_whole_pages_plus_a_digest(tmp_path):
    path = snapshot_file(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "truncated" in checksum_problem(path)


def test_a_snapshot_with_flipped_bytes_fails_its_digest(tmp_path):
    path = snapshot_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert "corrupted" in checksum_problem(path)


# -- the etcd build ------------------------------------------------------


def test_the_lab_builds_etcd_from_the_same_recipe_and_cache():
    lab = lab_etcd_build(CURRENT)
    runner = etcd_build(CURRENT.etcd.lstrip("v"))
    assert lab.out_dir == runner.out_dir
    assert lab.stamp == runner.stamp
    assert lab.out_dir.name == f"etcd-{CURRENT.etcd}"


def test_an_etcd_version_is_a_v3_release_tag():
    assert etcd_tag("3.7.3") == "v3.7.3"
    assert etcd_tag("v3.6.0-rc.1") == "v3.6.0-rc.1"
    with pytest.raises(UsageError, match="etcd v3 release"):
        etcd_tag("2.3.8")
    with pytest.raises(UsageError):
        etcd_tag("3.7.3; rm -rf /")
