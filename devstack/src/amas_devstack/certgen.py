"""collector/certgen, the program that makes the private CA, certificates and token of a secured
OTLP hop: built once per source into the binary store (``<build cache>/store/certgen@<hash>``),
for the tests and the compose image alike, so both run the code compose runs.

    python -m amas_devstack.certgen -dir run/tls -clients app    # certgen's own flags
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from amas_devstack import REPO_ROOT
from amas_devstack.binaries import BinaryMissing, build_root

__all__ = ["CERTGEN_SOURCE", "certgen_binary"]

CERTGEN_SOURCE = REPO_ROOT / "collector" / "certgen"


def _source_key() -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((CERTGEN_SOURCE / name).read_bytes())
    return digest.hexdigest()[:16]


def certgen_binary() -> Path:
    """The static certgen binary for the current source, built with Go when missing."""
    out = build_root() / "store" / f"certgen@{_source_key()}" / "certgen"
    if out.is_file():
        return out
    go = shutil.which("go") or "/usr/local/go/bin/go"  # where scripts/build_binaries.sh looks too
    if not os.access(go, os.X_OK):
        raise BinaryMissing("certgen: go not found (needed to build collector/certgen)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        proc = subprocess.run(
            [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(Path(tmp) / "certgen"), "."],
            cwd=CERTGEN_SOURCE,
            env={**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "-buildvcs=false"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise BinaryMissing(f"building collector/certgen failed:\n{proc.stdout}{proc.stderr}")
        os.replace(Path(tmp) / "certgen", out)
    return out


if __name__ == "__main__":
    raise SystemExit(subprocess.call([str(certgen_binary()), *sys.argv[1:]]))
