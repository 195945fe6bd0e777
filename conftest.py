"""Fixtures for the guarantee suites: target, topology, node access, faults.

Fixtures arrange, tests assert. The target comes from ``gauntlet run``
(``KUBE_GAUNTLET_*`` variables) or, when pytest is run by hand, from the
lab on this host; a missing target fails rather than skips, so CI never
reports green for a run that checked nothing.

Before the first namespace is made, one probe checks that the cluster
accepts writes. If it refuses them (a 5xx, an admission refusal), the
run says so once, tests marked ``readonly`` still run (their context has
no namespace), and every other test is skipped as not run, naming the
API's reason.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet import backends, progress
from gauntlet.checks.chaos.writes import run_probe_namespace
from gauntlet.checks.context import CheckContext, CheckSkipped, Images
from gauntlet.checks.upg.settings import UpgradeSettings
from gauntlet.cluster import workloads
from gauntlet.cluster.client import Cluster, ClusterTarget, connect
from gauntlet.cluster.discovery import ClusterTopology, discover
from gauntlet.cluster.write_probe import WriteRefusal, probe_writes
from gauntlet.errors import (
    GauntletError,
    LabError,
    NodeAccessError,
    UsageError,
)
from gauntlet.exit_codes import EXIT_TERMINATED
from gauntlet.faults import kinds
from gauntlet.faults.ledger import (
    FaultLedger,
    LedgerEntry,
    RollbackFailure,
    install_signal_handlers,
)
from gauntlet.faults.mirror import ConfigMapMirror
from gauntlet.kube_version import KubeVersion
from gauntlet.nodes.base import NodeAccess
from gauntlet.nodes.helper_pods import IMPOSSIBLE
from gauntlet.project import reports_root
from gauntlet.pytest_plugin import Measure
from gauntlet.reporting import attach
from gauntlet.reporting.parts import PartResult
from gauntlet.reporting.timeline import Timeline
from gauntlet.runid import current_run_id, new_run_id
from gauntlet.wellknown import LAB_NAME, RUN_LABEL, label_value

LAB_CONTEXT = LAB_NAME
REFUSED = "the cluster refuses writes"
NOT_RUN = f"not run: {REFUSED}"
READONLY_NAMESPACE = ""
"""The namespace of a ``readonly`` test's context: none was created, and
a write into it fails at once."""
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_REFUSAL = pytest.StashKey[WriteRefusal]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--keep-on-failure",
        action="store_true",
        help="keep a failed test's namespace for inspection",
    )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Skip disruptive tests unless the target context was named.

    ``gauntlet run --allow-destructive`` sets the variable after its own
    checks; a bare ``pytest suites/`` never breaks a cluster by accident.
    """
    allowed = os.environ.get("KUBE_GAUNTLET_ALLOW_DESTRUCTIVE")
    context = os.environ.get("KUBE_GAUNTLET_CONTEXT") or LAB_CONTEXT
    if allowed and allowed == context:
        return
    skip = pytest.mark.skip(
        reason="disruptive: opt in with `gauntlet run --allow-destructive "
        "<context>` (or KUBE_GAUNTLET_ALLOW_DESTRUCTIVE=<context>)"
    )
    for item in items:
        if item.get_closest_marker("disruptive"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """What cannot be observed skips the test, also from a fixture (a
    fixture that finds etcd hidden is a skip, not an error)."""
    with _unobservable_skips():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A node the backend cannot reach at all skips the test, saying why.

    Helper pods are made on first use, so this can surface mid-test; any
    other node access error (a command that failed) stays a failure.
    Checks that run in parts never get here with a finding: they raise
    the violation themselves (``CheckContext.conclude``).
    """
    with _unobservable_skips():
        return (yield)


@contextlib.contextmanager
def _unobservable_skips() -> Iterator[None]:
    try:
        yield
    except CheckSkipped as exc:
        pytest.skip(str(exc))
    except NodeAccessError as exc:
        if not str(exc).startswith(IMPOSSIBLE):
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def run_id(pytestconfig: pytest.Config) -> str:
    """The run's id: from ``gauntlet run``, else made up for this session."""
    return (
        current_run_id()
        or pytestconfig.getoption("gauntlet_run_id")
        or new_run_id()
    )


@pytest.fixture(scope="session")
def target() -> ClusterTarget:
    """The cluster under test, without contacting it."""
    found = ClusterTarget.from_env()
    if found is not None:
        return found
    from gauntlet.lab.cluster import LabCluster

    lab = LabCluster()
    try:
        lab.manifest()
    except LabError:
        pytest.fail(
            "no target cluster: KUBE_GAUNTLET_KUBECONFIG is unset and no lab "
            "is up; use `gauntlet run` or run `gauntlet lab up` first",
            pytrace=False,
        )
    return ClusterTarget(lab.paths.kubeconfig, LAB_CONTEXT)


@pytest.fixture(scope="session")
def cluster(target: ClusterTarget) -> Iterator[Cluster]:
    """A client known to reach the target; the run fails if it cannot."""
    try:
        connected = connect(target)
    except GauntletError as exc:
        pytest.fail(f"cluster: {exc}", pytrace=False)
    yield connected
    connected.close()


@pytest.fixture(scope="session")
def topology(cluster: Cluster) -> ClusterTopology:
    """Nodes, control-plane mode, etcd members and distribution."""
    return discover(cluster)


@pytest.fixture(scope="session")
def ledger(cluster: Cluster, run_id: str) -> Iterator[FaultLedger]:
    """Faults and created objects recorded first; what is still open is
    rolled back or removed at session end (after a crash: by `recover`)."""
    try:
        faults = FaultLedger(run_id, mirror=ConfigMapMirror(cluster, run_id))
    except GauntletError as exc:
        pytest.fail(f"fault ledger: {exc}", pytrace=False)
    restore = install_signal_handlers(faults, on_terminate=_terminated)
    yield faults
    try:
        failures = faults.rollback_all(objects=True)
    finally:
        restore()
    _fail_on(failures)


@pytest.fixture(autouse=True)
def _faults_rolled_back_when_the_test_ends(
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    """A check that fails midway leaves its faults open: roll them back as
    its test ends, not when the session does."""
    uses = "ledger" in request.fixturenames
    faults = request.getfixturevalue("ledger") if uses else None
    yield
    if faults is not None:
        _fail_on(faults.rollback_all())


def _fail_on(failures: list[RollbackFailure]) -> None:
    if failures:
        undone = "; ".join(
            f"{f.entry.description}: {f.error}" for f in failures
        )
        pytest.fail(
            f"rollback failed ({undone}); run `gauntlet recover`",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def write_refusal(
    cluster: Cluster,
    run_id: str,
    ledger: FaultLedger,
    pytestconfig: pytest.Config,
) -> WriteRefusal | None:
    """Whether the cluster refuses writes; said once, in one line, if so
    (and the run then fails: a gate must not pass a cluster that cannot
    take a write). The probe's namespace is in the ledger before it is
    made, like everything a run creates."""
    name = f"kg-probe-{secrets.token_hex(3)}"
    entry = ledger.record_object(
        f"namespace {name}", kinds.delete_object(cluster, "Namespace", name)
    )
    refusal = probe_writes(
        cluster.core(), name, {RUN_LABEL: label_value(run_id)}
    )
    try:  # the probe deleted it already; a 404 closes the entry
        ledger.remove(entry, lambda: _delete_namespace(cluster.core(), name))
    except ApiException as exc:
        progress.say(f"write probe {name}: left for the run's end: {exc}")
    if refusal is not None:
        pytestconfig.stash[_REFUSAL] = refusal
        _say_now(
            pytestconfig,
            f"{REFUSED}: {refusal}; only read-only checks run",
        )
    return refusal


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A cluster that refused writes fails the run even if every check
    that could run passed: the others were not run."""
    refusal = session.config.stash.get(_REFUSAL, None)
    if refusal is not None and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def test_namespace(
    cluster: Cluster,
    run_id: str,
    ledger: FaultLedger,
    request: pytest.FixtureRequest,
    write_refusal: WriteRefusal | None,
) -> Iterator[str]:
    """A throwaway namespace, labelled with the run and recorded in the
    ledger before it is made; deleted at the end.

    Not run at all when the cluster refuses writes.
    """
    if write_refusal is not None:
        pytest.skip(f"{NOT_RUN}: {write_refusal.message}")
    name = f"kg-{secrets.token_hex(3)}"
    entry = ledger.record_object(
        f"namespace {name}", kinds.delete_object(cluster, "Namespace", name)
    )
    core = cluster.core()
    body = client.V1Namespace(
        metadata=client.V1ObjectMeta(
            name=name, labels={RUN_LABEL: label_value(run_id)}
        )
    )
    try:
        core.create_namespace(body)
    except ApiException as exc:
        if _refused(exc):  # nothing made (409: someone else's): forget it
            ledger.release(entry, f"not created: {exc.status} {exc.reason}")
        raise
    # Pods are refused until the namespace's default ServiceAccount exists.
    workloads.ensure_service_account(core, name)
    yield name
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    if failed:
        attach.attach_text(f"events in {name}", _events(cluster, name))
        if request.config.getoption("keep_on_failure"):
            progress.say(f"kept namespace {name} of failed {request.node.name}")
            ledger.release(entry, "kept for inspection (--keep-on-failure)")
            return
    # Newest first: the test's faults are undone before its namespace goes.
    _fail_on(ledger.rollback_all())
    ledger.remove(entry, how=lambda: _delete_namespace(core, name))


@pytest.fixture(scope="session")
def probe_namespace(
    cluster: Cluster, run_id: str, ledger: FaultLedger
) -> Iterator[str]:
    """The run's namespace for write probes (``kg-probes-<run id>``):
    recorded now, made by the first check that writes probes (through
    every API server), removed at session end (404 if never made)."""
    name = run_probe_namespace(run_id)
    entry = ledger.record_object(
        f"namespace {name}", kinds.delete_object(cluster, "Namespace", name)
    )
    yield name
    ledger.remove(entry, how=lambda: _delete_namespace(cluster.core(), name))


@pytest.fixture(scope="session")
def images() -> Images:
    """Image names: ``KUBE_GAUNTLET_IMAGE_WORKLOAD`` or the e2e agnhost,
    under ``KUBE_GAUNTLET_IMAGE_REPO``'s mirror."""
    return Images.from_env()


@pytest.fixture(scope="session")
def node_access(
    cluster: Cluster, run_id: str, ledger: FaultLedger
) -> Iterator[tuple[NodeAccess | None, str]]:
    """Node access, or None and the reason it is impossible here."""
    kind = os.environ.get("KUBE_GAUNTLET_NODE_ACCESS") or (
        "lab" if cluster.cluster_name == LAB_CONTEXT else "pod"
    )
    helpers: LedgerEntry | None = None
    if kind == "pod":  # helper pods and maybe their namespace: record first
        helpers = ledger.record_object(
            f"helper pods of run {run_id}",
            kinds.delete_helper_pods(cluster, run_id),
        )
    try:
        access: NodeAccess | None = backends.node_access(kind, cluster, run_id)
        reason = ""
    except NodeAccessError as exc:
        access, reason = None, str(exc)
    if access is None and helpers is not None:
        _undo_refused_helpers(ledger, helpers)
    yield access, reason
    if access is not None:
        try:
            ledger.rollback_all()
        finally:
            backends.cleanup_all()
        if helpers is not None:
            ledger.remove(helpers)


@pytest.fixture
def check(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    topology: ClusterTopology,
    probe_namespace: str,
    images: Images,
    node_access: tuple[NodeAccess | None, str],
    measure: Measure,
    record_part: Callable[[PartResult], None],
) -> Iterator[CheckContext]:
    """The context a guarantee check runs in (CheckSkipped -> skip).

    A ``readonly`` test gets no namespace, so it runs also on a cluster
    that refuses writes.
    """
    readonly = request.node.get_closest_marker("readonly") is not None
    namespace = (
        READONLY_NAMESPACE
        if readonly
        else request.getfixturevalue("test_namespace")
    )
    access, reason = node_access
    timeline = Timeline(_timeline_title(request.node))
    ctx = CheckContext(
        cluster=cluster,
        topology=topology,
        namespace=namespace,
        images=images,
        nodes=access,
        nodes_unavailable=reason or "node access is not configured",
        record=lambda n, v, u, b, span: timeline.measured(
            measure(n, v, u, bound=b, span=span)
        ),
        record_part=record_part,
        probe_namespace=probe_namespace,
        timeline=timeline,
    )
    yield ctx


def _timeline_title(item: pytest.Item) -> str:
    marker = item.get_closest_marker("guarantee")
    name = str(marker.args[0]) if marker and marker.args else ""
    return f"{name}: {item.name}" if name else item.name


@pytest.fixture(scope="session")
def upgrade_settings() -> UpgradeSettings:
    """The run's upgrade parameters (``--target-version``, ``--baseline``
    ...); a variable set to something unusable fails the run."""
    try:
        return UpgradeSettings.from_env()
    except UsageError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def target_version(upgrade_settings: UpgradeSettings) -> KubeVersion:
    """The version the cluster is about to be upgraded to; missing, the
    test fails (never skips): a preupgrade check that does not know what
    it prepares for proves nothing."""
    try:
        return upgrade_settings.require_target()
    except UsageError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def run_dir(pytestconfig: pytest.Config, run_id: str) -> Path:
    """The run's report directory: beside the allure results under
    ``gauntlet run``, else ``reports/<run id>`` when pytest runs by hand.
    Files a check keeps for the user (baseline.json, ginkgo's reports,
    a kept snapshot's record) go here."""
    alluredir = pytestconfig.getoption("allure_report_dir", None)
    root = Path(alluredir).parent if alluredir else reports_root() / run_id
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def say_now(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Progress lines shown as they happen, past pytest's capture (for
    checks that run for many minutes)."""
    return lambda line: _say_now(pytestconfig, line)


def _say_now(config: pytest.Config, line: str) -> None:
    """One line on the terminal now, past pytest's output capture."""
    capture = config.pluginmanager.getplugin("capturemanager")
    terminal = config.pluginmanager.getplugin("terminalreporter")
    disabled = (
        capture.global_and_fixture_disabled()
        if capture is not None
        else contextlib.nullcontext()
    )
    with disabled:
        if terminal is not None:
            terminal.write_line(f"[gauntlet] {line}")
        else:
            progress.say(line)


def _undo_refused_helpers(ledger: FaultLedger, entry: LedgerEntry) -> None:
    """The pod backend gave up before making any pod, maybe after making
    its namespace (a refused dry run): remove that. Without the right to
    look, say so and close the entry, or `recover` would fail on it for
    ever."""
    try:
        ledger.remove(entry)
    except GauntletError as exc:
        progress.say(f"helper pods: not cleaned up: {exc}")
        ledger.release(entry, f"not removable: {exc}")


def _terminated() -> NoReturn:
    pytest.exit(
        "terminated (SIGTERM); faults rolled back", returncode=EXIT_TERMINATED
    )


def _refused(exc: ApiException) -> bool:
    """A 4xx (but a request timeout): the request surely made nothing."""
    return bool(exc.status) and 400 <= exc.status < 500 and exc.status != 408


def _delete_namespace(core: client.CoreV1Api, name: str) -> None:
    """Through the session's client, on the connection the tests use (a
    sabotage may pin it to one side of a split brain)."""
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _events(cluster: Cluster, namespace: str) -> str:
    try:
        events = cluster.core().list_namespaced_event(namespace).items
    except ApiException as exc:
        return f"cannot list events: {exc.status} {exc.reason}"
    lines = []
    for event in events:
        obj = event.involved_object
        what = f"{obj.kind}/{obj.name}" if obj else "?"
        when = event.last_timestamp or event.event_time or ""
        lines.append(
            f"{when} {event.type} {event.reason} {what}: {event.message}"
        )
    return "\n".join(lines) or "no events"
