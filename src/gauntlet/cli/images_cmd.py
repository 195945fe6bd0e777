"""``gauntlet images list|export``: the test images a run pulls.

A cluster that cannot reach registry.k8s.io needs them some other way:
from a mirror (``--image-repo``), or imported into every node from the
archives ``export`` writes (the lab's own builders, so they are the
images the lab runs, under the names the run uses).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from gauntlet import progress
from gauntlet.errors import UsageError
from gauntlet.exit_codes import EXIT_OK
from gauntlet.images import (
    AGNHOST_IMAGE,
    BUSYBOX_IMAGE,
    IMAGE_REPO_ENV,
    RUNNER_IMAGE,
    ImageUse,
    check_repo,
    run_images,
    runner_use,
)

__all__ = ["add_image_repo_argument", "add_parser", "export", "list_images"]

Builder = Callable[[Path, str], Path]
"""Writes the image named by the second argument into the directory."""


def add_image_repo_argument(
    parser: argparse.ArgumentParser, default: str = f"${IMAGE_REPO_ENV}"
) -> None:
    """``--image-repo MIRROR``, the same on every command that has it."""
    parser.add_argument(
        "--image-repo",
        metavar="MIRROR",
        help="pull every registry.k8s.io test image from MIRROR instead "
        f"(registry.k8s.io/<path>:<tag> as MIRROR/<path>:<tag>; default "
        f"{default})",
    )


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    images = sub.add_parser(
        "images",
        help="the test images a run pulls; archives for nodes that cannot",
    )
    cmds = images.add_subparsers(dest="images_command", required=True)
    listing = cmds.add_parser(
        "list", help="each image a run needs and what uses it"
    )
    add_image_repo_argument(listing)
    listing.add_argument("--json", action="store_true", help="machine-readable")
    listing.set_defaults(func=list_images)
    out = cmds.add_parser(
        "export",
        help="build the images and write their OCI archives to DIR (for "
        "ctr import or kind load image-archive)",
    )
    out.add_argument("dir", type=Path, metavar="DIR")
    add_image_repo_argument(out)
    out.set_defaults(func=export)


def list_images(args: argparse.Namespace) -> int:
    """Print each image a run needs, as the run would name it."""
    uses = _uses(args.image_repo)
    if args.json:
        rows = [
            {
                "image": u.image,
                "upstream": u.upstream,
                "used_by": u.used_by,
                "env": u.env,
                "overridden": u.overridden,
            }
            for u in uses
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(u.image) for u in uses)
    for u in uses:
        note = f" (set by {u.env})" if u.overridden else ""
        print(f"{u.image:<{width}}  {u.used_by}{note}")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    """Build each image kube-gauntlet makes into ``DIR``; print how to
    load them. An image set by its variable is the user's to bring."""
    directory: Path = args.dir
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    uses = _uses(args.image_repo)
    builders = _builders()
    written: list[Path] = []
    for use in uses:
        if use.overridden:
            progress.say(
                f"skipped {use.image}: set by {use.env}, not an image "
                "kube-gauntlet builds"
            )
            continue
        try:
            archive = builders[use.upstream](directory, use.image)
        except OSError as exc:
            raise UsageError(
                f"cannot write {use.image} to {directory}: "
                f"{exc.strerror or exc}"
            ) from exc
        written.append(archive)
        print(f"{archive}  {use.image}")
    if written:
        _print_hints(written)
    return EXIT_OK


def _uses(repo: str | None) -> tuple[ImageUse, ...]:
    """The images runs start pods from, and the runner image of in-cluster
    load workers (made only by those who start them)."""
    if repo is not None:
        repo = check_repo(repo, "--image-repo")
    return (*run_images(repo), runner_use(repo))


def _builders() -> dict[str, Builder]:
    """The lab's builders, by the upstream name each makes."""
    from gauntlet.gobuild import build as gobuild
    from gauntlet.lab import build, images

    def agnhost(directory: Path, name: str) -> Path:
        bin_dir = gobuild.ensure_built(build.kubernetes_build())
        return images.build_agnhost_image(
            directory, bin_dir / "agnhost", name=name
        )

    def busybox(directory: Path, name: str) -> Path:
        return images.build_busybox_image(directory, name=name)

    def runner(directory: Path, name: str) -> Path:
        """Built in the builder's digest layout, exported flat."""
        from gauntlet.lab import runner_image

        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            built = runner_image.build_runner_image(Path(tmp), name)
            return built.replace(directory / built.name)

    return {
        AGNHOST_IMAGE: agnhost,
        BUSYBOX_IMAGE: busybox,
        RUNNER_IMAGE: runner,
    }


def _print_hints(archives: list[Path]) -> None:
    """How to load the archives: containerd nodes, or a kind cluster.
    Pods pull only when the image is missing, so loaded ones are used."""
    print("on each node (containerd):")
    for archive in archives:
        print(f"  ctr -n k8s.io images import {archive}")
    print("or into a kind cluster:")
    for archive in archives:
        print(f"  kind load image-archive {archive}")
