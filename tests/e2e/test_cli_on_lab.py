"""The gauntlet command against the lab: verdicts, reports, refusals.

These run the installed CLI as a user would and read its exit code,
stderr and report files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_cli import PROJECT, gauntlet, one_clear_line, summary_of

from gauntlet import progress
from gauntlet.lab.pki import write_kubeconfig
from gauntlet.lab.topology import LB_ENDPOINT
from gauntlet.lab.versions import CURRENT


def test_gate_on_the_lab_passes_and_writes_every_report(lab):
    proc = gauntlet("run", "--profile", "gate")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    summary = summary_of(proc)
    run_dir = PROJECT / "reports" / summary["run_id"]
    verdicts = {g["guarantee"]: g["verdict"] for g in summary["guarantees"]}
    assert verdicts and set(verdicts.values()) <= {"pass", "skip"}, verdicts
    # ARCH-15 can only exercise a pod limit on a node whose limit is low;
    # the lab keeps 110, so it reports and skips (its sabotage test sets 5).
    skipped = {k for k, v in verdicts.items() if v == "skip"}
    assert skipped <= {"ARCH-15"}, verdicts
    assert all(v == "pass" for k, v in verdicts.items() if k not in skipped)
    assert len(verdicts) == 16, verdicts
    assert (run_dir / "html" / "index.html").is_file()
    assert (run_dir / "junit.xml").is_file()
    assert any((run_dir / "allure-results").glob("*-result.json"))
    measured = [m for g in summary["guarantees"] for m in g["measurements"]]
    assert measured, "no measurement recorded"


def _user_kubeconfig(lab, tmp_path: Path, user: str) -> Path:
    pki = lab.paths.pki
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (pki / "ca.key").read_bytes(), None
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)])
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca_cert.not_valid_before_utc)
        .not_valid_after(ca_cert.not_valid_after_utc)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "u.crt").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "u.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path = tmp_path / "nobody.kubeconfig"
    write_kubeconfig(
        path,
        server=LB_ENDPOINT,
        ca_file=pki / "ca.crt",
        cert_file=tmp_path / "u.crt",
        key_file=tmp_path / "u.key",
        user=user,
        context_name="nobody",
    )
    return path


def test_missing_rbac_permission_is_one_clear_line(lab, tmp_path):
    kubeconfig = _user_kubeconfig(lab, tmp_path, "kg-nobody")
    proc = gauntlet("run", "--profile", "gate", "--kubeconfig", str(kubeconfig))
    line = one_clear_line(proc)
    assert "missing RBAC permission" in line, line


def test_gameday_refuses_a_wrong_cluster_name_before_contacting_it(lab):
    proc = gauntlet(
        "run",
        "--profile",
        "gameday",
        "--kubeconfig",
        str(lab.paths.kubeconfig),
        "--allow-destructive",
        "prod",
    )
    line = one_clear_line(proc)
    assert "--allow-destructive" in line and "kube-gauntlet-lab" in line


def test_recover_undoes_a_fault_left_by_a_killed_run(lab, faults, tmp_path):
    script = textwrap.dedent("""
        import os, signal
        from gauntlet.faults.ledger import FaultLedger
        from gauntlet.faults.rollback import Rollback
        from gauntlet.lab.access import LabNodeAccess
        ledger = FaultLedger("killed-run-test")
        f = LabNodeAccess()
        ledger.inject(
            "stop kubelet on w1",
            Rollback("start_component",
                     {"backend": "lab", "node": "w1", "component": "kubelet"}),
            lambda: f.stop("w1", "kubelet"))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    killed = subprocess.run([sys.executable, "-c", script], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert faults.component("w1", "kubelet")["state"] == "stopped"

    # Only this run: other dead runs on the host are not this test's.
    proc = gauntlet("recover", "--run", "killed-run-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "killed-run-test" in proc.stdout + proc.stderr
    progress.wait_until(
        "kubelet on w1 running again",
        lambda: faults.component("w1", "kubelet")["state"] == "running",
        30,
    )


def test_lab_status_and_kubeconfig_commands(lab):
    status = gauntlet("lab", "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert len(report["nodes"]) == 5
    assert report["kubernetes"] == CURRENT.kubernetes
    assert sum(m.get("is_leader", False) for m in report["etcd"]) == 1
    path = gauntlet("lab", "kubeconfig").stdout.strip()
    assert yaml.safe_load(Path(path).read_text())["current-context"]
    assert os.path.samefile(path, lab.paths.kubeconfig)
