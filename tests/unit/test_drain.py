"""A drain evicts what ``kubectl drain --force --ignore-daemonsets`` would."""

from types import SimpleNamespace as NS

from gauntlet.cluster.drain import drainable


def pod(owner: str | None = None, mirror: bool = False, phase: str = "Running"):
    refs = [NS(kind=owner)] if owner else None
    notes = {"kubernetes.io/config.mirror": "x"} if mirror else None
    return NS(
        metadata=NS(owner_references=refs, annotations=notes),
        status=NS(phase=phase),
    )


def test_deployment_and_bare_pods_are_evicted():
    assert drainable(pod("ReplicaSet"))
    assert drainable(pod())


def test_daemonset_static_and_finished_pods_stay():
    assert not drainable(pod("DaemonSet"))
    assert not drainable(pod(mirror=True))
    assert not drainable(pod(phase="Succeeded"))
    assert not drainable(pod(phase="Failed"))
