"""The one place amas_telemetry relies on how uvicorn and gunicorn run their workers.

Neither server tells a process that it is one of its workers: ``uvicorn --workers N`` starts
multiprocessing *spawn* children with no environment variable or argument of their own, and
gunicorn sets ``SERVER_SOFTWARE`` in its master and its workers alike (with ``--preload`` the
master loads the app, and so calls ``configure()``, too). So a worker is recognised by the code
that loads the app in it, found up the stack:

- uvicorn: its child entry point ``subprocess_started`` in :data:`UVICORN_WORKER_MODULE` (the
  target of the spawn process ``get_subprocess`` builds); the supervisor never runs it.
- gunicorn: ``Worker.init_process`` → ``load_wsgi`` in :data:`GUNICORN_WORKER_PACKAGE` (every
  worker class, uvicorn's ``UvicornWorker`` included, derives from ``gunicorn.workers.base.Worker``);
  a master loading the app for ``--preload`` runs in ``gunicorn.arbiter`` instead.

Read against uvicorn 0.54.0 and gunicorn 27.0.1. tests/unit/test_server_internals.py runs the
installed servers' own entry points and fails if they no longer load the app inside these
modules; tests/workers runs real ``uvicorn --workers 2`` and ``gunicorn -w 2 --preload``.
"""

from __future__ import annotations

import importlib
import os
import sys

from amas_telemetry._internal.compat.verify import Reach, require

__all__ = [
    "GUNICORN_WORKER_PACKAGE",
    "REACHES",
    "UVICORN_WORKER_MODULE",
    "in_gunicorn",
    "in_gunicorn_worker",
    "in_uvicorn_worker",
]

UVICORN_WORKER_MODULE = "uvicorn._subprocess"
GUNICORN_WORKER_PACKAGE = "gunicorn.workers."


def _called_from(module_prefix: str) -> bool:
    """Whether a caller up the stack lives in a module whose name starts with ``module_prefix``."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(module_prefix):
            return True
        frame = frame.f_back
    return False


def in_gunicorn() -> bool:
    """A gunicorn master or worker (or a child forked from one): gunicorn sets ``SERVER_SOFTWARE``."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def in_uvicorn_worker() -> bool:
    """Called while uvicorn's worker entry point loads or serves the app."""
    return _called_from(UVICORN_WORKER_MODULE)


def in_gunicorn_worker() -> bool:
    """Called while a gunicorn worker loads or serves the app (not its master)."""
    return in_gunicorn() and _called_from(GUNICORN_WORKER_PACKAGE)


def _check_uvicorn() -> None:
    module = importlib.import_module(UVICORN_WORKER_MODULE)
    entry = getattr(module, "subprocess_started", None)
    require(callable(entry), f"{UVICORN_WORKER_MODULE}.subprocess_started")


def _check_gunicorn() -> None:
    from gunicorn.workers.base import Worker

    require(
        all(callable(getattr(Worker, name, None)) for name in ("init_process", "load_wsgi")),
        "gunicorn.workers.base.Worker.init_process and load_wsgi",
    )


REACHES: tuple[Reach, ...] = (
    Reach(
        "uvicorn",
        f"{UVICORN_WORKER_MODULE}.subprocess_started, where a worker loads the app "
        "(several workers' /metrics)",
        _check_uvicorn,
        module="uvicorn",
    ),
    Reach(
        "gunicorn",
        "gunicorn.workers.base.Worker.init_process → load_wsgi (several workers' /metrics)",
        _check_gunicorn,
        module="gunicorn",
    ),
)
