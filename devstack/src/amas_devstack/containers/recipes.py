"""How each image compose.yaml pins is made here (see :mod:`.images` for which and why).

Each :class:`Image` has a key (a digest of everything it is made from) and a build; the
store (:mod:`.images`) keeps an image whose key is current.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amas_devstack import REPO_ROOT
from amas_devstack.binaries import binary, build_root
from amas_devstack.certgen import certgen_binary
from amas_devstack.containers.engine import ContainerError, PodmanHost
from amas_devstack.containers.steps import digest, progress, run

__all__ = ["IMAGES", "KEY_LABEL", "Image"]

ASSETS = Path(__file__).resolve().parent / "assets"
KEY_LABEL = "amas.image.key"

#: the Debian root of the stand-ins: suite and the packages it carries
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_PACKAGES = ("postgresql-15", "redis-server", "python3", "python3-venv")


# --- inputs built on the host ---------------------------------------------------------------------


def httpprobe_source() -> str:
    """The health probe's Go source: the heredoc of collector/Dockerfile (one source)."""
    text = (REPO_ROOT / "collector" / "Dockerfile").read_text()
    match = re.search(r"^COPY <<'GO' main\.go\n(.*?)^GO$", text, re.S | re.M)
    if match is None:
        raise ContainerError("collector/Dockerfile has no httpprobe heredoc (COPY <<'GO' main.go)")
    return match[1]


def httpprobe_binary() -> Path:
    """The probe, static, built once per source into the binary store."""
    source = httpprobe_source()
    out = build_root() / "store" / f"httpprobe@{digest(source)}" / "httpprobe"
    if out.is_file():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main.go").write_text(source)
        env = {**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-buildvcs=false"}
        go = shutil.which("go") or "/usr/local/go/bin/go"  # where scripts/build_binaries.sh looks too
        run([go, "mod", "init", "httpprobe"], cwd=Path(tmp), env=env)
        run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", "httpprobe", "."], cwd=Path(tmp), env=env)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(Path(tmp) / "httpprobe"), out)
    return out


# --- image recipes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """An image to make: its name (as compose.yaml pins it) and how."""

    name: str
    key: Callable[[], str]
    build: Callable[[PodmanHost, str], None]


def _tar_root(files: dict[str, tuple[Path | None, int, int, int]], tarball: Path) -> None:
    """A tarball of a tiny root: path -> (source file or None for a folder, uid, gid, mode)."""
    import tarfile

    with tarfile.open(tarball, "w") as tar:
        for path, (source, uid, gid, mode) in files.items():
            info = tarfile.TarInfo(path)
            info.uid, info.gid, info.mode, info.mtime = uid, gid, mode, 0
            if source is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = source.stat().st_size
                with source.open("rb") as handle:
                    tar.addfile(info, handle)


def _import(host: PodmanHost, name: str, key: str, tarball: Path, changes: Sequence[str]) -> None:
    args = ["import"]
    for change in [*changes, f"LABEL {KEY_LABEL}={key}"]:
        args += ["--change", change]
    host.run(["podman", *args, str(tarball), name], timeout=600)


PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"


def _scratch_files(tmp: Path) -> dict[str, tuple[Path | None, int, int, int]]:
    """/etc/passwd and /etc/group (root, nobody, nonroot as distroless and busybox have), /tmp."""
    (tmp / "passwd").write_text(PASSWD)
    (tmp / "group").write_text(GROUP)
    return {
        "etc": (None, 0, 0, 0o755),
        "etc/passwd": (tmp / "passwd", 0, 0, 0o644),
        "etc/group": (tmp / "group", 0, 0, 0o644),
        "tmp": (None, 0, 0, 0o1777),
    }


def _scratch_image(
    name: str, entries: Callable[[], dict[str, tuple[Path | None, int, int, int]]], changes: Sequence[str]
) -> Image:
    def key() -> str:
        return digest(
            name,
            *changes,
            *(f"{p}:{s and digest(s)}:{u}:{g}:{m:o}" for p, (s, u, g, m) in entries().items()),
        )

    def build(host: PodmanHost, key_: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            files = {**_scratch_files(Path(tmp)), **entries()}
            _tar_root(files, Path(tmp) / "root.tar")
            _import(host, name, key_, Path(tmp) / "root.tar", changes)

    return Image(name, key, build)


def _debian_key() -> str:
    return digest(DEBIAN_SUITE, *DEBIAN_PACKAGES, "minbase", "v1")


DEBIAN_BASE = f"localhost/amas-debian:{DEBIAN_SUITE}"


def _build_debian(host: PodmanHost, key: str) -> None:
    """debootstrap a minimal Debian with the stand-ins' packages; import it as the base."""
    with tempfile.TemporaryDirectory(dir=build_root() / "containers") as tmp:
        root = Path(tmp) / "root"
        with progress(f"debootstrap {DEBIAN_SUITE} ({', '.join(DEBIAN_PACKAGES)})"):
            run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(DEBIAN_PACKAGES)}",
                    DEBIAN_SUITE,
                    str(root),
                    DEBIAN_MIRROR,
                ]
            )
        for junk in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/locale",
            "var/lib/postgresql/15",
            "etc/postgresql/15",
        ):
            shutil.rmtree(root / junk, ignore_errors=True)
        # the official python image's contract: `python` and `pip` on PATH, installs land in its
        # site-packages; here a venv of Debian's python3 at /usr/local/python, first on PATH
        run(["chroot", str(root), "python3", "-m", "venv", "/usr/local/python"])
        run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(Path(tmp) / "root.tar"), "."])
        path = ":".join(
            [
                "/usr/local/python/bin",
                "/usr/lib/postgresql/15/bin",
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
        )
        _import(host, DEBIAN_BASE, key, Path(tmp) / "root.tar", [f"ENV PATH={path}", "ENV LANG=C.UTF-8"])


def _containerfile_image(
    name: str,
    containerfile: Callable[[], str],
    context: Callable[[Path], None] | None = None,
    *,
    extra_key: Callable[[], str] = lambda: "",
    context_dir: Path | None = None,
    network: str = "none",
) -> Image:
    """FROM the Debian base: a Containerfile, built in ``context_dir`` or in a temp folder
    that ``context`` fills. ``network="host"`` lets RUN steps fetch packages (the machine's
    network; image builds run outside the session's private network namespace)."""

    def key() -> str:
        return digest(name, _debian_key(), containerfile(), extra_key())

    def build(host: PodmanHost, key_: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            if context is not None:
                context(Path(tmp))
            (Path(tmp) / "Containerfile").write_text(containerfile())
            volumes = _machine_ca_volumes(Path(tmp)) if network == "host" else []
            with progress(f"podman build {name}"):
                host.run(
                    [
                        "podman",
                        "build",
                        f"--network={network}",
                        "--pull=never",
                        *volumes,
                        "--label",
                        f"{KEY_LABEL}={key_}",
                        "-t",
                        name,
                        "-f",
                        str(Path(tmp) / "Containerfile"),
                        str(context_dir or tmp),
                    ],
                    timeout=1800,
                )

    return Image(name, key, build)


def _machine_ca_volumes(tmp: Path) -> list[str]:
    """RUN-time mounts (not kept in the image) that let pip in a build container trust what
    this machine trusts: its CA bundle, named by a pip.conf (pip otherwise uses its own)."""
    bundle = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        return []
    (tmp / "pip.conf").write_text("[global]\ncert = /etc/amas-build-ca.pem\n")
    return [
        "--volume",
        f"{bundle}:/etc/amas-build-ca.pem:ro",
        "--volume",
        f"{tmp / 'pip.conf'}:/etc/pip.conf:ro",
    ]


def _postgres_containerfile() -> str:
    return (
        f"FROM {DEBIAN_BASE}\n"
        "COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh\n"
        "ENV PGDATA=/var/lib/postgresql/data\n"
        "EXPOSE 5432\n"
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]\n'
        'CMD ["postgres"]\n'
        f"# entrypoint {digest(ASSETS / 'postgres-entrypoint.sh')}\n"
    )


def _postgres_context(tmp: Path) -> None:
    target = tmp / "docker-entrypoint.sh"
    shutil.copy(ASSETS / "postgres-entrypoint.sh", target)
    target.chmod(0o755)


REDIS_CONTAINERFILE = (
    f"FROM {DEBIAN_BASE}\n"
    "RUN install -d -o redis -g redis /data\n"
    "WORKDIR /data\n"
    "EXPOSE 6379\n"
    'CMD ["redis-server"]\n'
)

SERVICE_DOCKERFILE = REPO_ROOT / "service" / "Dockerfile"


def _service_containerfile() -> str:
    """service/Dockerfile itself, its python base image replaced by the Debian stand-in."""
    text = SERVICE_DOCKERFILE.read_text()
    replaced, count = re.subn(r"^FROM python:\S+", f"FROM {DEBIAN_BASE}", text, flags=re.M)
    if count == 0:
        raise ContainerError("service/Dockerfile has no FROM python:... line to put the Debian base in")
    return replaced


def _service_source_key() -> str:
    """What service/Dockerfile copies from the checkout (its COPY sources), as git sees them."""
    sources = [
        src
        for line in re.findall(r"^COPY (?!--from)(.+)$", SERVICE_DOCKERFILE.read_text(), re.M)
        for src in line.split()[:-1]
    ]
    listing = subprocess.run(
        ["git", "ls-files", "-s", "--", *sources], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    dirty = subprocess.run(
        ["git", "diff", "HEAD", "--", *sources], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return digest(listing, dirty)


def _binary_entry(component: str) -> Path:
    return binary(component).resolve()  # the store path names the binary's build key


IMAGES: tuple[Image, ...] = (
    Image(DEBIAN_BASE, _debian_key, _build_debian),
    _scratch_image(
        "docker.io/amas/healthprobe:0.165.0-amas",
        lambda: {"httpprobe": (httpprobe_binary(), 0, 0, 0o755)},
        ['ENTRYPOINT ["/httpprobe"]', "USER 0:0"],
    ),
    _scratch_image(
        "docker.io/amas/certgen:0.165.0-amas",
        lambda: {"certgen": (certgen_binary(), 0, 0, 0o755)},
        ['ENTRYPOINT ["/certgen"]', "USER 0:0"],
    ),
    _scratch_image(
        "docker.io/amas/otelcol-amas:0.165.0-amas",
        lambda: {
            "otelcol-amas": (_binary_entry("collector"), 0, 0, 0o755),
            "httpprobe": (httpprobe_binary(), 0, 0, 0o755),
            "var": (None, 0, 0, 0o755),
            "var/lib": (None, 0, 0, 0o755),
            "var/lib/otelcol": (None, 0, 0, 0o755),
            "var/lib/otelcol/queue": (None, 65532, 65532, 0o755),
        },
        [
            'ENTRYPOINT ["/otelcol-amas"]',
            'CMD ["--config=/etc/otelcol/config.yaml"]',
            "USER 65532:65532",
            "EXPOSE 4317",
            "EXPOSE 4318",
            "EXPOSE 13133",
            "EXPOSE 8888",
        ],
    ),
    _scratch_image(
        "docker.io/prom/prometheus:v3.16.0",
        lambda: {
            "bin": (None, 0, 0, 0o755),
            "bin/prometheus": (_binary_entry("prometheus"), 0, 0, 0o755),
            "etc/prometheus": (None, 0, 0, 0o755),
            "prometheus": (None, 65534, 65534, 0o755),
        },
        [
            'ENTRYPOINT ["/bin/prometheus"]',
            'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
            "USER 65534",
            "WORKDIR /prometheus",
            "EXPOSE 9090",
        ],
    ),
    _scratch_image(
        "docker.io/prom/alertmanager:v0.35.0",
        lambda: {
            "bin": (None, 0, 0, 0o755),
            "bin/alertmanager": (_binary_entry("alertmanager"), 0, 0, 0o755),
            "etc/alertmanager": (None, 0, 0, 0o755),
            "alertmanager": (None, 65534, 65534, 0o755),
        },
        [
            'ENTRYPOINT ["/bin/alertmanager"]',
            'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]',
            "USER 65534",
            "WORKDIR /alertmanager",
            "EXPOSE 9093",
        ],
    ),
    _containerfile_image("docker.io/library/postgres:17.5", _postgres_containerfile, _postgres_context),
    _containerfile_image("docker.io/library/redis:7.4.5", lambda: REDIS_CONTAINERFILE),
    # its build stage runs `pip wheel` against PyPI: the machine's network
    _containerfile_image(
        "docker.io/amas/amas-service:0.1.0",
        _service_containerfile,
        extra_key=_service_source_key,
        context_dir=REPO_ROOT,
        network="host",
    ),
)
