#!/usr/bin/env python3
"""Locust against a native reference client (wrk) on the same API server.

    .venv/bin/python benchmarks/load_vs_reference.py [--seconds 30]

Issue 14 asks whether Locust is fast enough that the API server, not the
load tool, is what gets measured. Both tools send the same 1:1 mix (GET
one existing ConfigMap, LIST the namespace's ConfigMaps) with the same
ServiceAccount bearer token through the same server URL (the load
balancer of the lab's kubeconfig), one after the other for ``--seconds``
each, on the same cores (which the lab's API servers share):

- wrk (Debian's, /usr/bin/wrk) with ``--wrk-threads`` threads,
  ``--users`` connections and the Lua script next to this file; its GETs
  go to ``--objects`` pre-created ConfigMaps. wrk does NOT verify the
  server certificate (it has no option to): the same token and URL are
  checked once with ``curl --cacert`` first, so the reference is known to
  talk to the API server that the cluster CA vouches for.
- Locust through the engine (``gauntlet.load.runner.run_load``, scenario
  ``get-and-list``) with ``--users`` users and no think time (each user
  sends its next request as soon as the last one answers, as a wrk
  connection does), TLS verified against the CA:
  once in one process, once with ``--workers`` local workers
  (``--load-workers``). Its users GET the ConfigMaps they seed as they
  start; while wrk runs, as many stand-ins exist, so both tools' LISTs
  return the same objects' count.

After a 5 s warm-up, wrk runs first and after every round of Locust
runs (``--rounds``); the ratio is each
Locust run's req/s over the mean of the wrk runs, since the lab drifts.
Locust's rate is counted from its per-second series, without the first
seconds (users starting) and its seed and cleanup requests. Prints req/s,
failures, p50/p99, the CPU each tool used and how busy the machine was,
and the ratios against the 0.8 target. Exits 0 whether or not the target
is met (it is a measurement), non-zero when a run measured nothing. The
namespace it creates (ServiceAccount, Role, ConfigMaps) is deleted at
the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import yaml
from load_vs_reference_figures import (
    Figures,
    locust_kubeconfig,
    parse_wrk,
    percentile_ms,
    ratio_lines,
    steady_window,
    table,
    wrk_figures,
)

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

LAB_KUBECONFIG = Path("/var/lib/kube-gauntlet/lab/admin.kubeconfig")
WRK = Path("/usr/bin/wrk")
LUA = Path(__file__).with_suffix(".lua")
SCENARIO = "get-and-list"
OBJECT_PREFIX = "kg-bench-"
ENGINE_SEEDS = 2
"""ConfigMaps each Locust user creates as it starts
(``gauntlet.load.users.SEEDS``) and deletes as it stops: the wrk runs get
as many stand-ins, so both tools LIST the same number of objects."""
STAND_IN_LABEL = "kg-bench-stand-in"
TOKEN_LIFETIME_S = 3600
WARMUP_S = 5
"""A first wrk run, not counted: the API server's caches and
connections warm up on it rather than on the first measured run."""


@dataclass(frozen=True)
class Identity:
    """The benchmark's own ServiceAccount, as both tools present it."""

    namespace: str
    server: str
    token: str
    ca_file: Path
    kubeconfig: Path
    """For Locust: the same token, server and CA."""
    core: CoreV1Api
    """The admin's ``CoreV1Api`` (stand-ins are created with it)."""


# ---- the cluster side ---------------------------------------------------


@contextmanager
def benchmark_identity(
    kubeconfig: Path, objects: int, workdir: Path
) -> Iterator[Identity]:
    """A namespace with a ServiceAccount allowed to get, list, create and
    delete ConfigMaps there (the Locust users create their seeds and
    delete them), ``objects`` ConfigMaps, a TokenRequest token and a
    kubeconfig for it. The namespace is deleted on the way out."""
    from kubernetes import client  # after argparse: --help stays fast

    from gauntlet.cluster.client import ClusterTarget, connect

    cluster = connect(ClusterTarget(kubeconfig, None))
    core, rbac = cluster.core(), cluster.rbac()
    namespace = f"kg-bench-load-{secrets.token_hex(3)}"
    meta = client.V1ObjectMeta
    core.create_namespace(client.V1Namespace(metadata=meta(name=namespace)))
    try:
        account = "kg-bench"
        core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=meta(name=account))
        )
        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=meta(name=account),
                rules=[
                    client.V1PolicyRule(
                        api_groups=[""],
                        resources=["configmaps"],
                        verbs=["get", "list", "create", "delete"],
                    )
                ],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=meta(name=account),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io",
                    kind="Role",
                    name=account,
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="ServiceAccount",
                        name=account,
                        namespace=namespace,
                    )
                ],
            ),
        )
        for i in range(objects):
            core.create_namespaced_config_map(
                namespace,
                client.V1ConfigMap(
                    metadata=meta(
                        name=f"{OBJECT_PREFIX}{i:03d}",
                        labels={"kg-bench": "1"},
                    ),
                    data={"v": f"{i:064d}"},
                ),
            )
        issued = core.create_namespaced_service_account_token(
            account,
            namespace,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(
                    audiences=[], expiration_seconds=TOKEN_LIFETIME_S
                )
            ),
        )
        if issued.status is None or not issued.status.token:
            raise RuntimeError(f"TokenRequest for {account}: no token")
        token = str(issued.status.token)
        ca_pem = Path(cluster.api.configuration.ssl_ca_cert).read_bytes()
        ca_file = workdir / "ca.crt"
        ca_file.write_bytes(ca_pem)
        config = workdir / "locust.kubeconfig"
        config.write_text(locust_kubeconfig(cluster.server, ca_pem, token))
        config.chmod(0o600)
        yield Identity(namespace, cluster.server, token, ca_file, config, core)
    finally:
        core.delete_namespace(namespace)
        print(f"deleted namespace {namespace}", flush=True)
        cluster.close()


@contextmanager
def stand_ins(who: Identity, count: int) -> Iterator[None]:
    """``count`` ConfigMaps shaped like the Locust users' seeds, there
    while wrk runs, so that its LIST returns as many objects as the
    Locust users' LIST does."""
    from kubernetes import client

    names = [f"kg-load-stand-in-{i:04d}" for i in range(count)]
    try:
        for name in names:
            who.core.create_namespaced_config_map(
                who.namespace,
                client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(
                        name=name,
                        labels={"kg-load": "1", STAND_IN_LABEL: "1"},
                    ),
                    data={"v": "1"},
                ),
            )
        yield
    finally:
        who.core.delete_collection_namespaced_config_map(
            who.namespace, label_selector=STAND_IN_LABEL
        )


def object_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"


def check_reference_server(who: Identity, expected: int, workdir: Path) -> None:
    """One verified request with the token wrk will send: curl checks
    the server certificate against the CA (wrk cannot) and the LIST
    holds the ``expected`` ConfigMaps (kube-root-ca.crt aside).

    Raises:
        RuntimeError: curl failed or the LIST is not what wrk will see.
    """
    header = workdir / "auth.header"
    header.write_text(f"Authorization: Bearer {who.token}\n")
    header.chmod(0o600)
    proc = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--fail",
            "--cacert",
            str(who.ca_file),
            "-H",
            f"@{header}",
            f"{who.server}{object_path(who.namespace)}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"curl --cacert: {proc.stderr.strip()}")
    items = yaml.safe_load(proc.stdout).get("items") or []
    ours = [i for i in items if i["metadata"]["name"] != "kube-root-ca.crt"]
    if len(ours) != expected:
        raise RuntimeError(
            f"curl --cacert: LIST has {len(ours)} of {expected} ConfigMaps"
        )
    print(
        f"curl --cacert: {who.server} verified against the cluster CA; "
        f"the LIST returns {len(items)} ConfigMaps",
        flush=True,
    )


# ---- the tools ----------------------------------------------------------


@dataclass
class Meter:
    """CPU used during a run: by this process's children (the tool) and
    by the whole machine."""

    cpu_s: float = 0.0
    busy_pct: float = 0.0


def _children_cpu_s() -> float:
    """CPU used so far by waited-for child processes (and theirs)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@contextmanager
def metered() -> Iterator[Meter]:
    meter = Meter()
    cpu, (busy, total) = _children_cpu_s(), _machine_jiffies()
    yield meter
    busy_after, total_after = _machine_jiffies()
    meter.cpu_s = _children_cpu_s() - cpu
    spent = total_after - total
    meter.busy_pct = 100.0 * (busy_after - busy) / spent if spent else 0.0


def run_wrk(
    who: Identity, objects: int, threads: int, connections: int, seconds: int
) -> Figures:
    """wrk with the Lua mix for ``seconds``.

    Raises:
        RuntimeError: wrk failed or printed no summary.
    """
    path = object_path(who.namespace)
    env = {
        **os.environ,
        "KG_WRK_TOKEN": who.token,
        "KG_WRK_GET_PREFIX": f"{path}/{OBJECT_PREFIX}",
        "KG_WRK_OBJECTS": str(objects),
        "KG_WRK_LIST_PATH": path,
    }
    argv = [
        str(WRK),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"{who.server}/",
    ]
    with metered() as meter:
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=seconds + 60
        )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {proc.stderr}")
    try:
        summary = parse_wrk(proc.stdout)
    except ValueError as exc:
        raise RuntimeError(f"{exc}: {proc.stdout[-400:]}") from exc
    return wrk_figures(
        summary, threads, connections, meter.cpu_s, meter.busy_pct
    )


def run_locust(
    who: Identity, users: int, workers: int, seconds: int, rate: float | None
) -> Figures:
    """The engine's Locust run of the same mix: its GET and LIST
    requests only (the users' seed CREATEs and cleanup DELETEs are left
    out), over the seconds after the users started."""
    from gauntlet.load.credentials import Source
    from gauntlet.load.plan import LoadPlan
    from gauntlet.load.runner import run_load
    from gauntlet.load.scenarios import SCENARIOS

    plan = LoadPlan(
        scenario=SCENARIO,
        users=users,
        workers=workers,
        seconds=seconds,
        rate=rate,
        think_s=(0, 0),  # as wrk: the next request as soon as one answers
    )
    with metered() as meter:
        result = run_load(Source(who.kubeconfig, None), who.namespace, plan)
    tally = result.tally
    mix = set(SCENARIOS[SCENARIO])
    per_second: dict[int, int] = {}
    merged: dict[int, int] = {}
    for name in mix:
        for at, second in tally.series.get(name, {}).items():
            done = second.ok + sum(second.failed.values())
            per_second[at] = per_second.get(at, 0) + done
        for ms, n in tally.timings.get(name, {}).items():
            merged[ms] = merged.get(ms, 0) + n
    requests, span = steady_window(per_second)
    where = "1" if workers == 0 else f"{workers} workers + master"
    pace = "unpaced, no wait" if rate is None else f"{rate:g} req/s target"
    return Figures(
        tool="locust",
        processes=f"{where} ({result.users} users, {pace})",
        requests=requests,
        seconds=float(span),
        failures=sum(sum(tally.failures.get(n, {}).values()) for n in mix),
        p50_ms=percentile_ms(merged, 0.50),
        p99_ms=percentile_ms(merged, 0.99),
        cpu_s=meter.cpu_s,
        busy_pct=meter.busy_pct,
    )


def _said(f: Figures) -> None:
    print(f"{f.tool} ({f.processes}): {f.rate:.0f} req/s", flush=True)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def measure(args: argparse.Namespace, who: Identity) -> list[Figures]:
    """The curl check and a warm-up, then wrk, then per round Locust in
    one process, Locust distributed and wrk again: every Locust run sits
    between two wrk runs."""
    from gauntlet.load.pace import users_for

    figures: list[Figures] = []
    seeds = users_for(args.locust_rate, args.users) * ENGINE_SEEDS

    def wrk() -> None:
        with stand_ins(who, seeds):
            figures.append(
                run_wrk(
                    who,
                    args.objects,
                    args.wrk_threads,
                    args.users,
                    args.seconds,
                )
            )
        _said(figures[-1])

    with stand_ins(who, seeds):
        check_reference_server(who, args.objects + seeds, who.ca_file.parent)
        run_wrk(who, args.objects, args.wrk_threads, args.users, WARMUP_S)
    print(f"warm-up: wrk for {WARMUP_S} s, not counted", flush=True)
    wrk()
    for _ in range(args.rounds):
        for workers in (0, args.workers):
            figures.append(
                run_locust(
                    who, args.users, workers, args.seconds, args.locust_rate
                )
            )
            _said(figures[-1])
        wrk()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, default=LAB_KUBECONFIG)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument(
        "--users",
        type=int,
        default=20,
        help="Locust users, and wrk connections (default 20)",
    )
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Locust workers in the distributed run, as --load-workers",
    )
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the Locust runs, each round followed by wrk",
    )
    parser.add_argument(
        "--locust-rate",
        type=float,
        default=None,
        help="run Locust at this fixed rate (req/s, all users) instead "
        "of unpaced; the engine then runs at least rate/10 users",
    )
    args = parser.parse_args()
    if not WRK.exists():
        sys.exit(f"{WRK} is missing: apt-get install wrk")
    signal.signal(signal.SIGTERM, _interrupt)
    print(
        f"{SCENARIO}: GET single configmap and LIST namespace configmaps "
        f"1:1, {args.seconds} s per run, {args.users} Locust users / wrk "
        f"connections ({args.wrk_threads} wrk threads), "
        f"{os.cpu_count()} cores shared with the lab",
        flush=True,
    )
    from kubernetes.client.exceptions import ApiException

    from gauntlet.errors import GauntletError

    try:
        with (
            tempfile.TemporaryDirectory(prefix="kg-bench-load-") as tmp,
            benchmark_identity(args.kubeconfig, args.objects, Path(tmp)) as who,
        ):
            figures = measure(args, who)
    except KeyboardInterrupt:
        sys.exit("interrupted")
    except (
        GauntletError,
        ApiException,
        RuntimeError,
        OSError,
        subprocess.SubprocessError,
    ) as exc:
        sys.exit(f"load_vs_reference: {exc}")
    print()
    print(table(figures))
    print(
        "wrk does not verify the server certificate (it has no option "
        "to); curl --cacert checked the same URL and token first. Locust "
        "verifies it against the cluster CA."
    )
    for line in ratio_lines(figures):
        print(line)
    unobserved = [f for f in figures if f.requests == 0]
    if unobserved:
        sys.exit(
            "measured nothing: "
            + ", ".join(f"{f.tool} ({f.processes})" for f in unobserved)
        )


if __name__ == "__main__":
    main()
