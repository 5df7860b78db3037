"""The dev PostgreSQL runs as its own OS user, wherever the clone is (a root user's home is 0700)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from amas_devstack.servers import DATA_LOCATION, PostgresServer, find_postgres_bin

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to the 'postgres' user"),
    pytest.mark.skipif(find_postgres_bin() is None, reason="no PostgreSQL binaries (scripts/setup.sh)"),
]


def test_a_server_in_a_folder_postgres_cannot_enter_keeps_its_data_elsewhere_and_removes_it():
    private = Path(tempfile.mkdtemp())  # 0700, as mktemp -d and /root are
    server = PostgresServer(private / "run" / "postgresql")
    try:
        server.start()
        assert server.psql("SELECT 41 + 1") == "42"
        moved = Path((server.base / DATA_LOCATION).read_text().strip())
        assert server.data == moved / "data" and (moved / "data" / "PG_VERSION").is_file()
        assert not str(moved).startswith(str(private))
        assert (server.base / "postgresql.log").is_file()  # the log stays where the caller looks
    finally:
        server.stop()
        shutil.rmtree(private)
    assert not moved.exists()


def test_a_server_in_a_folder_postgres_can_enter_keeps_its_data_there():
    open_folder = Path(tempfile.mkdtemp())
    open_folder.chmod(0o755)
    server = PostgresServer(open_folder / "postgresql")
    try:
        server.start()
        assert server.data == open_folder / "postgresql" / "data"
        assert not (server.base / DATA_LOCATION).exists()
    finally:
        server.stop()
        shutil.rmtree(open_folder)
