"""A handle's membership of an app group of workers: join, fork, leave.

At ``configure()`` a worker of uvicorn or gunicorn joins its group (its /metrics then merges
the other workers' files, see :mod:`.workers`). Around a fork of a configured process (gunicorn
``--preload``) the parent notes what it measured so far, and the child takes a new
``service.instance.id``, starts its own flush thread and joins the group, subtracting what it
inherited. At exit, a last flush.

With ``metrics_port`` the membership also says who listens there (:mod:`.server`): every
worker and a lone process; not a gunicorn master nor a helper forked from a worker.
"""

from __future__ import annotations

import atexit
import logging
import os
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from amas_telemetry import semconv as sc
from amas_telemetry._internal.compat.sdk import renew_resource
from amas_telemetry._internal.compat.servers import in_gunicorn
from amas_telemetry._internal.prometheus.server import MetricsServer
from amas_telemetry._internal.prometheus.workers import (
    SnapshotStore,
    default_metrics_dir,
    forked_worker_group,
    supervisor_pid,
)

__all__ = ["Membership"]

_log = logging.getLogger(__name__)


class Membership:
    """One handle's place in its app group (or none, in a lone process)."""

    def __init__(
        self,
        endpoint: Any,
        metrics_dir: str | None,
        service_name: str,
        providers: Callable[[], list[Any]],
        pending: Callable[[], int],
        api_activity: Callable[[], int],
        server: MetricsServer | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._server = server
        self._metrics_dir = metrics_dir or default_metrics_dir()
        self._service_name = service_name
        self._providers = providers
        self._pending = pending
        self._api_activity = api_activity
        self._fork_baseline: Any = None
        self.closed = False

    def start(self) -> None:
        group = supervisor_pid()
        if group is not None:
            try:
                self.join(group)
            except OSError as error:  # the app still starts; its /metrics speaks for this worker only
                _log.warning(
                    "amas_telemetry: cannot share metrics in %s (%s): /metrics shows this worker only",
                    self._metrics_dir,
                    error,
                )
        # a worker or a lone process serves the metrics port; a gunicorn master that loaded the
        # app for --preload does not (its workers will, each on the same address)
        if self._server is not None and (group is not None or not in_gunicorn()):
            self._server.start()
        _members.add(self)

    def join(self, group: int, inherited: Any = None) -> None:
        store = SnapshotStore(self._metrics_dir, self._service_name, group)
        seen = [self._api_activity()]

        def changed() -> bool:
            """Anything measured since the last check: spans queued, or the OTel API used."""
            activity = self._api_activity()
            api_used, seen[0] = activity != seen[0], activity
            return self._pending() > 0 or api_used

        self._endpoint.join_workers(store, changed, inherited)

    def leave(self) -> None:
        """Stop serving the metrics port, and the flush thread after a last write (shutdown, exit)."""
        self.closed = True
        if self._server is not None:
            self._server.stop()
        self._endpoint.leave_workers()

    def before_fork(self) -> None:
        """In a gunicorn master (``--preload``): what this process measured, which children inherit."""
        master = self._endpoint.store is None and forked_worker_group() is not None
        self._fork_baseline = self._endpoint.local() if master else None

    def after_fork_in_child(self) -> None:
        new_instance_id(self._providers())
        was_worker = self._endpoint.store is not None  # then this child is a helper, not a worker
        self._endpoint.forget_after_fork()
        if self._server is not None:
            self._server.forget_after_fork()  # the parent's socket: a helper child does not listen
        group = forked_worker_group()
        if group is not None and not was_worker:
            try:
                self.join(group, self._fork_baseline)
            except OSError as error:
                _log.warning("amas_telemetry: cannot share metrics in %s (%s)", self._metrics_dir, error)
            if self._server is not None:  # a new worker of a --preload master
                self._server.start()


def new_instance_id(providers: list[Any]) -> None:
    """Each process is its own OTLP source: a forked child gets a new ``service.instance.id``.

    The SDK has no public way to change a provider's resource: see
    :func:`amas_telemetry._internal.compat.sdk.renew_resource`.
    """
    from opentelemetry.sdk.resources import Resource

    fresh = Resource({sc.SERVICE_INSTANCE_ID: str(uuid.uuid4())})
    for provider in providers:
        if provider is not None:
            renew_resource(provider, fresh)


_members: weakref.WeakSet[Membership] = weakref.WeakSet()


def _each_open(method: Callable[[Membership], None]) -> Callable[[], None]:
    def run() -> None:
        for member in list(_members):
            if not member.closed:
                method(member)

    return run


os.register_at_fork(
    before=_each_open(Membership.before_fork), after_in_child=_each_open(Membership.after_fork_in_child)
)
atexit.register(_each_open(Membership.leave))
