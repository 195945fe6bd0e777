"""A Locust master on the runner, with N in-cluster workers (see README).

    python examples/in-cluster-load/run_master.py --workers 8 \\
        --bind 192.0.2.10 --port 5557 --users 400 --rate 2000 --seconds 300 \\
        --image-repo registry.example.com/k8s [--apply]

It makes a load namespace, starts the master (no local worker) listening
on ``--bind``, and either applies the worker Job itself (``--apply``) or
prints it for ``kubectl apply -f -``. What it makes is in kube-gauntlet's
fault ledger first, so ``gauntlet recover`` removes what a killed run
left. It prints the achieved rate and the requests per class.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from kubernetes import client

from gauntlet.checks.load.in_cluster_workers import running_workers
from gauntlet.cluster.client import ClusterTarget, connect
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.images import runner_image
from gauntlet.load.credentials import Source
from gauntlet.load.in_cluster import (
    WorkerJob,
    to_yaml,
    worker_manifests,
)
from gauntlet.load.plan import LoadPlan
from gauntlet.load.runner import start_load
from gauntlet.runid import new_run_id
from gauntlet.wellknown import MANAGED_BY, RUN_LABEL, label_value


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", type=Path)
    p.add_argument("--context")
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--bind", required=True, help="runner address pods reach")
    p.add_argument("--port", type=int, default=5557)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--rate", type=float, help="req/s of all users together")
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--scenario", default="default")
    p.add_argument("--image-repo", help="the mirror holding the image")
    p.add_argument("--apply", action="store_true", help="apply the Job")
    p.add_argument(
        "--host-network",
        action="store_true",
        help="workers in the nodes' network (pod egress not masqueraded)",
    )
    args = p.parse_args()

    target = ClusterTarget(args.kubeconfig, args.context)
    cluster = connect(target)
    ledger = FaultLedger(new_run_id("load-"))
    namespace = f"kg-load-{ledger.run_id[-8:].lower()}"
    plan = LoadPlan(
        scenario=args.scenario,
        users=args.users,
        rate=args.rate,
        seconds=args.seconds,
        remote_workers=args.workers,
        master_bind=args.bind,
        master_port=args.port,
    )
    with contextlib.ExitStack() as stack:
        stack.callback(ledger.rollback_all, objects=True)
        entry = ledger.record_object(
            f"Namespace {namespace}",
            kinds.delete_object(cluster, "Namespace", namespace),
        )
        stack.callback(ledger.remove, entry)
        labels = {**MANAGED_BY, RUN_LABEL: label_value(ledger.run_id)}
        cluster.core().create_namespace(
            client.V1Namespace(
                metadata=client.V1ObjectMeta(name=namespace, labels=labels)
            )
        )
        source = Source(args.kubeconfig, args.context)
        running = stack.enter_context(start_load(source, namespace, plan))
        job = WorkerJob(
            name="kg-load-workers",
            namespace=namespace,
            workers=args.workers,
            master_host=args.bind,
            master_port=running.master_port,
            image=runner_image(args.image_repo),
            run_id=ledger.run_id,
            env=running.worker_env(),
            deadline_s=plan.duration_s + 600,
            host_network=args.host_network,
        )
        if args.apply:
            stack.enter_context(running_workers(cluster, ledger, job))
        else:
            sys.stdout.write(to_yaml(worker_manifests(job)))
            print(f"# master waiting on {args.bind}:{running.master_port}")
        result = running.result()
    print(f"{result.requests} requests, {result.achieved_rate:.1f} req/s")
    tally = result.tally
    for name in tally.names():
        ok = sum(tally.timings.get(name, {}).values())
        failed = sum(tally.failures.get(name, {}).values())
        print(f"  {name}: {ok} ok, {failed} failed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
