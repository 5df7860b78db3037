"""How amas_telemetry tells a server's worker (server_internals.py): against the installed servers.

Each test runs the installed server's own code path that loads the app in a worker, and fails
loudly when that code no longer lives where server_internals looks for it.
"""

from __future__ import annotations

import io
import sys

import gunicorn
import uvicorn
from gunicorn.workers.base import Worker
from uvicorn import Config
from uvicorn._subprocess import get_subprocess

from amas_telemetry._internal.compat import servers as server_internals


def test_uvicorns_worker_entry_point_is_recognised(monkeypatch):
    """What a ``uvicorn --workers`` child runs (the spawn process's ``run()``), run here."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no stdin file number for the child to reopen
    seen: list[bool] = []
    process = get_subprocess(
        Config(app="tests.workers.app:app", log_config=None),
        lambda sockets: seen.append(server_internals.in_uvicorn_worker()),
        [],
    )
    process.run()
    assert seen == [True], (
        f"uvicorn {uvicorn.__version__} no longer runs its workers in "
        f"{server_internals.UVICORN_WORKER_MODULE}: re-read uvicorn/_subprocess.py, "
        "then update server_internals"
    )
    assert not server_internals.in_uvicorn_worker()  # a lone process


def test_gunicorns_worker_loading_the_app_is_recognised(monkeypatch):
    """A gunicorn worker loads the app in ``Worker.load_wsgi`` (run by ``init_process``)."""
    assert gunicorn.SERVER_SOFTWARE.startswith("gunicorn/")
    monkeypatch.setenv("SERVER_SOFTWARE", gunicorn.SERVER_SOFTWARE)  # what gunicorn's Arbiter sets
    seen: list[bool] = []

    class App:
        def wsgi(self) -> None:
            seen.append(server_internals.in_gunicorn_worker())

    worker = Worker.__new__(Worker)  # without __init__'s heartbeat file: only load_wsgi runs
    worker.app = App()
    worker.load_wsgi()
    assert seen == [True], (
        f"gunicorn {gunicorn.__version__} no longer loads the app in "
        f"{server_internals.GUNICORN_WORKER_PACKAGE}: re-read gunicorn/workers/base.py, "
        "then update server_internals"
    )
    assert server_internals.in_gunicorn()
    assert not server_internals.in_gunicorn_worker()  # the master (--preload) loads the app elsewhere


def test_outside_gunicorn_nothing_is_a_gunicorn_worker(monkeypatch):
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert not server_internals.in_gunicorn()
