"""collector/certgen, the program that makes the private CA, certificates and token of a secured
OTLP hop: built once per source into the bin folder (``<build cache>/bin/certgen-<hash>``),
for the tests and the compose image alike, so both run the code compose runs.

    python -m amas_devstack.certgen -dir run/tls -clients app    # certgen's own flags
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amas_devstack import REPO_ROOT
from amas_devstack.binaries import go_tool

__all__ = ["CERTGEN_SOURCE", "certgen_binary"]

CERTGEN_SOURCE = REPO_ROOT / "collector" / "certgen"


def certgen_binary() -> Path:
    """The static certgen binary for the current source, built with Go when missing."""
    return go_tool(CERTGEN_SOURCE, "certgen", timeout=600)


if __name__ == "__main__":
    raise SystemExit(subprocess.call([str(certgen_binary()), *sys.argv[1:]]))
