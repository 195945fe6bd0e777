"""Two runs side by side: verdict changes and measurement deltas."""

from history_fixtures import run_id, summary

from gauntlet.reporting.compare import compare_runs, render_comparison

A = summary(
    1,
    {
        "ARCH-08": [("deleted pod replaced", 1.5, "s", 30.0)],
        "ARCH-06": [("pod startup p99", 2.0, "s", 5.0)],
        "RES-04": [("failed writes", 0, "", None)],
    },
    verdicts={"ARCH-06": "pass", "RES-01": "skip"},
)
B = summary(
    2,
    {
        "ARCH-08": [("deleted pod replaced", 12.0, "s", 30.0)],
        "ARCH-06": [("pod startup p99", 1.0, "s", 5.0)],
        "RES-04": [("failed writes", None, "", None)],
        "ARCH-10": [("liveness restart", 4.5, "s", 20.0)],
    },
    verdicts={"ARCH-06": "fail"},
)


def by_guarantee(comparison):
    return {v.guarantee: v for v in comparison.verdicts}


def by_name(comparison):
    return {m.name: m for m in comparison.measurements}


def test_verdict_changes_are_named():
    verdicts = by_guarantee(compare_runs(A, B))
    assert verdicts["ARCH-06"].change == "pass -> fail"
    assert verdicts["ARCH-08"].change == ""
    assert verdicts["RES-01"].change == "gone"
    assert verdicts["ARCH-10"].change == "new"
    assert [v.guarantee for v in compare_runs(A, B).changed_verdicts] == [
        "ARCH-06",
        "RES-01",
        "ARCH-10",
    ]


def test_measurements_show_both_values_and_the_change():
    values = by_name(compare_runs(A, B))
    replaced = values["deleted pod replaced"]
    assert (replaced.a, replaced.b, replaced.delta) == (1.5, 12.0, 10.5)
    assert replaced.change == "+10.5 (+700%) worse"
    startup = values["pod startup p99"]
    assert startup.change == "-1 (-50%) better"


def test_small_changes_get_no_verdict_of_worse_or_better():
    a = summary(1, {"ARCH-08": [("scale", 1.0, "s", 30.0)]})
    b = summary(2, {"ARCH-08": [("scale", 1.8, "s", 30.0)]})
    (m,) = compare_runs(a, b).measurements
    assert m.change == "+0.8 (+80%)"  # under the floor of 3 s


def test_float_noise_is_no_change():
    a = summary(1, {"ARCH-08": [("scale", 0.1, "s", 30.0)]})
    b = summary(2, {"ARCH-08": [("scale", 0.10000006, "s", 30.0)]})
    (m,) = compare_runs(a, b).measurements
    assert m.delta == 0.0 and m.change == ""


def test_missing_and_failed_values_are_said_so():
    values = by_name(compare_runs(A, B))
    assert values["failed writes"].change == "failed in B"
    assert values["liveness restart"].change == "only in B"
    assert not values["liveness restart"].in_a


def test_the_table_lists_both_runs_and_every_row():
    text = render_comparison(compare_runs(A, B))
    assert text.startswith(f"A {run_id(1)}  gate on kind-lab")
    assert f"B {run_id(2)}" in text
    row = next(line for line in text.splitlines() if "ARCH-06   " in line)
    assert row.split() == ["ARCH-06", "pass", "fail", "pass", "->", "fail"]
    assert "3 of 5 verdict(s) changed" in text
    replaced = next(line for line in text.splitlines() if "deleted pod" in line)
    assert replaced.split()[-6:] == [
        "30",
        "1.5",
        "12",
        "+10.5",
        "(+700%)",
        "worse",
    ]
    assert "4 measurement(s): 1 worse, 1 better" in text


def test_the_json_form_has_identities_and_rows():
    data = compare_runs(A, B).to_dict()
    assert data["a"]["run_id"] == run_id(1)
    assert data["b"]["profile"] == "gate"
    assert {v["guarantee"]: v["change"] for v in data["verdicts"]}[
        "ARCH-06"
    ] == "pass -> fail"
    first = data["measurements"][0]
    assert first["a"] == 1.5 and first["b"] == 12.0
    assert first["assessment"] == "worse"
