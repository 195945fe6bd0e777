"""`gauntlet recover`: one run or all, and forgetting a lost cluster's run."""

import json
import subprocess

from gauntlet.cli.main import main
from gauntlet.exit_codes import EXIT_OK, EXIT_USAGE, EXIT_VIOLATED
from gauntlet.faults.journal import ledger_dir
from gauntlet.faults.ledger import FaultLedger
from gauntlet.faults.rollback import Rollback


def _dead_run(run_id: str) -> None:
    """A run whose process is gone, with a fault no one can undo here (its
    lab is not up): like a run against a cluster since rebuilt."""
    ledger = FaultLedger(run_id)
    ledger.inject(
        "stop kubelet on w1",
        Rollback(
            "start_component",
            {"backend": "lab", "node": "w1", "component": "kubelet"},
        ),
        lambda: None,
    )
    child = subprocess.Popen(["true"])
    child.wait()
    lines = ledger.path.read_text().splitlines()
    header = {**json.loads(lines[0]), "pid": child.pid, "pid_start": None}
    ledger.path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")


def test_a_run_that_cannot_be_undone_fails_recover_and_names_the_way_out(
    capsys,
):
    _dead_run("lost")
    assert main(["recover"]) == EXIT_VIOLATED
    out = capsys.readouterr().out
    assert "failed: run lost: stop kubelet on w1" in out
    assert "gauntlet recover --forget lost" in out


def test_forgetting_it_closes_it_and_recover_is_clean_again(capsys):
    _dead_run("lost")
    assert main(["recover", "--forget", "lost"]) == EXIT_OK
    assert "forgotten: run lost: stop kubelet on w1" in capsys.readouterr().out
    assert main(["recover"]) == EXIT_OK
    assert "nothing to recover" in capsys.readouterr().out


def test_recovering_one_run_leaves_another_alone(capsys):
    _dead_run("lost")
    FaultLedger("mine")  # nothing open
    assert main(["recover", "--run", "mine"]) == EXIT_OK
    assert "lost" not in capsys.readouterr().out


def test_an_unknown_run_is_a_one_line_usage_error(capsys):
    assert main(["recover", "--run", "nope"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("gauntlet: error: no ledger of run nope in ")
    assert str(ledger_dir()) in err
