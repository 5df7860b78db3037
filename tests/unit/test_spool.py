"""The on-disk spool alone: order, bound, per-process files, a dead process's leftovers, fork."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from amas_telemetry._internal.otlp.spool import Spool, default_directory


def _drain(spool: Spool) -> list[bytes]:
    bodies = []
    while (oldest := spool.oldest()) is not None:
        entry, body = oldest
        bodies.append(body)
        spool.release(entry, delivered=True)
    return bodies


class TestSpool:
    def test_nothing_is_written_until_the_first_entry(self, tmp_path: Path) -> None:
        """A healthy app never touches the disk."""
        directory = tmp_path / "spool"
        Spool(directory, "traces", 1024)
        assert not directory.exists()

    def test_entries_come_back_oldest_first_and_leave_the_disk(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, "traces", 10_000)
        for i in range(5):
            assert spool.append(f"request {i}".encode(), items=10) == 0
        assert len(spool) == 5
        assert _drain(spool) == [f"request {i}".encode() for i in range(5)]
        assert not list(tmp_path.glob("*.otlp"))
        spool.close()
        assert not list(tmp_path.iterdir()), "an empty spool leaves nothing behind"

    def test_an_undelivered_entry_stays_first(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, "logs", 10_000)
        spool.append(b"a", 1)
        spool.append(b"b", 1)
        entry, _ = spool.oldest()  # type: ignore[misc]
        spool.release(entry, delivered=False)  # the endpoint is still away
        assert _drain(spool) == [b"a", b"b"]

    def test_past_the_bound_the_oldest_are_dropped_and_their_items_returned(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, "traces", max_bytes=300)
        dropped = [spool.append(bytes([i]) * 100, items=i + 1) for i in range(5)]
        # 3 fit; the 4th drops entry 0 (1 item), the 5th drops entry 1 (2 items)
        assert dropped == [0, 0, 0, 1, 2]
        assert spool.pending_bytes == 300
        assert [b[0] for b in _drain(spool)] == [2, 3, 4]

    def test_the_entry_being_sent_is_spared_by_the_bound(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, "traces", max_bytes=200)
        spool.append(b"0" * 100, 1)
        spool.append(b"1" * 100, 1)
        in_flight, _ = spool.oldest()  # type: ignore[misc]
        assert spool.append(b"2" * 100, 1) == 1  # entry "1" went, not the one in flight
        spool.release(in_flight, delivered=True)
        assert _drain(spool) == [b"2" * 100]

    def test_a_request_larger_than_the_bound_is_dropped_itself(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, "traces", max_bytes=50)
        spool.append(b"x" * 10, 1)
        assert spool.append(b"y" * 51, 7) == 7
        assert _drain(spool) == [b"x" * 10]

    def test_files_are_private_to_the_user(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path / "d", "traces", 1000)
        spool.append(b"secret-ish", 1)
        assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
        for path in (tmp_path / "d").iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    def test_an_unusable_directory_drops_and_counts_instead_of_raising(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        spool = Spool(blocker / "spool", "traces", 1000)
        assert spool.append(b"x", 4) == 4
        assert len(spool) == 0

    def test_the_default_directory_is_per_user_and_per_service(self) -> None:
        path = default_directory("amas service/1")
        assert path.name == "amas_service_1"
        assert path.parent.name == f"amas-telemetry-{os.getuid()}"


class TestSeveralProcesses:
    def test_two_spools_in_one_directory_share_no_file(self, tmp_path: Path) -> None:
        one, two = Spool(tmp_path, "traces", 10_000), Spool(tmp_path, "traces", 10_000)
        one.append(b"one", 1)
        two.append(b"two", 1)
        assert _drain(one) == [b"one"]
        assert _drain(two) == [b"two"]

    def test_a_living_spool_is_not_adopted(self, tmp_path: Path) -> None:
        owner, other = Spool(tmp_path, "traces", 10_000), Spool(tmp_path, "traces", 10_000)
        owner.append(b"mine", 1)
        assert other.adopt_orphans() == 0
        assert _drain(owner) == [b"mine"]

    def test_the_leftovers_of_a_killed_process_are_adopted_once(self, tmp_path: Path) -> None:
        """A worker dies with spooled data (kill -9): a sibling, or the next start, sends it."""
        pid = os.fork()
        if pid == 0:  # the worker: spool two requests, then wait to be killed
            try:
                spool = Spool(tmp_path, "traces", 10_000)
                spool.append(b"left 1", 3)
                spool.append(b"left 2", 4)
                (tmp_path / "ready").touch()
                signal.pause()
            finally:
                os._exit(0)
        try:
            while not (tmp_path / "ready").exists():
                time.sleep(0.01)
            survivor, late = Spool(tmp_path, "traces", 10_000), Spool(tmp_path, "traces", 10_000)
            assert survivor.adopt_orphans() == 0, "the worker still lives"
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert survivor.adopt_orphans() == 2
        assert late.adopt_orphans() == 0, "adopted twice"
        assert survivor.pending_bytes == len(b"left 1") + len(b"left 2")
        assert _drain(survivor) == [b"left 1", b"left 2"]
        survivor.close()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ready"]

    def test_other_signals_are_left_alone(self, tmp_path: Path) -> None:
        logs = Spool(tmp_path, "logs", 10_000)
        logs.append(b"log", 1)
        logs.close()  # its process "ended" with data left
        traces = Spool(tmp_path, "traces", 10_000)
        assert traces.adopt_orphans() == 0
        assert Spool(tmp_path, "logs", 10_000).adopt_orphans() == 1

    def test_a_forked_child_writes_under_its_own_name(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, "traces", 10_000)
        spool.append(b"parent", 1)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                spool.append(b"child", 1)
                names = [p.name for p in tmp_path.glob("*.otlp")]
                os.write(write, json.dumps([len(spool), names]).encode())
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read) as f:
            child_len, names = json.load(f)
        assert child_len == 1, "the child does not see (or send) the parent's entries"
        assert len(names) == 2
        assert len({n.rsplit("-", 2)[0] for n in names}) == 2, names
        assert _drain(spool) == [b"parent"], "the parent keeps only its own"


@pytest.mark.parametrize("signal_name", ["Traces", "tr-aces", ""])
def test_signal_names_are_checked(tmp_path: Path, signal_name: str) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path, signal_name, 10)
