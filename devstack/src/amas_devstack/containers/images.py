"""Local images for every compose.yaml service whose software can be built here.

No container registry is reachable, so each image compose.yaml pins is made on this machine
and tagged with the exact name compose.yaml uses (``docker.io/library/postgres:17.5``, ...):

- from scratch, with a static binary built here: the Collector (``otelcol-amas``, by
  scripts/build_binaries.sh), Prometheus and Alertmanager (same script, the versions
  compose.yaml pins), the health probe (its Go source is the one in collector/Dockerfile) and
  certgen (collector/certgen, :mod:`amas_devstack.certgen`);
  each with the user, folders and entrypoint the real image has;
- from a Debian 12 root made with debootstrap: PostgreSQL, Redis and the reference service.
  These are stand-ins and differ from the pinned images: Debian's PostgreSQL 15 in the image
  tagged ``postgres:17.5`` (with the official image's entrypoint contract: POSTGRES_PASSWORD,
  POSTGRES_USER, POSTGRES_DB, the data folder, ``pg_isready``), Debian's Redis 7.0 in
  ``redis:7.4.5``, Debian's Python 3.11 in place of ``python:3.12.8-slim-bookworm`` under the
  service image, whose final stage is service/Dockerfile's own.

Tempo, Loki and Grafana are not made: their software may not be used here.

Images live in a per-machine store (``<build cache>/containers/images``), each labelled with
the key of its inputs; an image whose key is current is kept, so a second run builds nothing.

    python -m amas_devstack.containers.images            # build what is missing or stale
    python -m amas_devstack.containers.images --list     # name, key and state of each image
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from amas_devstack.binaries import build_root
from amas_devstack.containers.engine import PodmanHost
from amas_devstack.containers.recipes import IMAGES, KEY_LABEL, Image
from amas_devstack.containers.steps import log, progress

__all__ = ["IMAGES", "build_images", "image_store", "store_lock"]


def image_store() -> Path:
    return build_root() / "containers" / "images"


@contextlib.contextmanager
def store_lock(*, shared: bool) -> Iterator[None]:
    """Builders hold the store exclusively; sessions that read it hold it shared."""
    path = build_root() / "containers" / "store.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_key(host: PodmanHost, name: str) -> str | None:
    proc = host.podman(
        "image", "inspect", "--format", f'{{{{ index .Labels "{KEY_LABEL}" }}}}', name, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def build_images(images: Sequence[Image] = IMAGES, *, force: bool = False) -> dict[str, str]:
    """Make every image whose key is not current in the store; name -> key. One builder at a time."""
    store = image_store()
    store.mkdir(parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    # the machine's network (service build stage); podman is never let make one there
    with (
        store_lock(shared=False),
        tempfile.TemporaryDirectory() as tmp,
        PodmanHost(Path(tmp), graphroot=store, private_network=False) as host,
    ):
        for image in images:
            key = image.key()
            keys[image.name] = key
            if not force and current_key(host, image.name) == key:
                log(f"{image.name}: up to date ({key})")
                continue
            log(f"{image.name}: building {key}")
            with progress(image.name):
                image.build(host, key)
        host.podman("image", "prune", "--force", check=False)
    return keys


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--force", action="store_true", help="rebuild every image")
    parser.add_argument("--list", action="store_true", help="show each image's key and whether it is current")
    args = parser.parse_args(argv)
    if args.list:
        with (
            store_lock(shared=True),
            tempfile.TemporaryDirectory() as tmp,
            PodmanHost(Path(tmp), graphroot=image_store()) as host,
        ):
            for image in IMAGES:
                key, have = image.key(), current_key(host, image.name)
                print(f"{image.name:48} {key}  {'current' if have == key else f'stale ({have})'}")
        return 0
    build_images(force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
