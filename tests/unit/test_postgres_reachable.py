"""The dev PostgreSQL runs as its own OS user: a folder it cannot enter is one clear error."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from amas_devstack.processes import ServerError
from amas_devstack.servers import PostgresServer


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to the 'postgres' user")
def test_a_folder_postgres_cannot_enter_is_named_in_one_clear_error():
    private = Path(tempfile.mkdtemp())  # 0700, as mktemp -d and /root are
    try:
        server = PostgresServer(private / "run" / "postgresql")
        if server.bin is None:
            pytest.skip("no PostgreSQL server binaries")
        with pytest.raises(ServerError, match=rf"chmod o\+x {private}"):
            server.start()
    finally:
        shutil.rmtree(private)
