"""Fork safety: state a forked child must not share with its parent.

A gunicorn ``--preload`` master configures telemetry and then forks its workers; a child
inherits locks that a thread of the parent may have held at the fork, threads that do not
run in the child, and identities (spool files, instance ids) that must be its own.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["hold_across_fork", "renew_after_fork"]

_T = TypeVar("_T")


def renew_after_fork(owner: _T, renew: Callable[[_T], object]) -> None:
    """In every child forked from now on, run ``renew(owner)`` right after the fork, for as
    long as ``owner`` lives (it is held weakly: registering does not keep it alive)."""
    ref = weakref.ref(owner)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            renew(alive)

    os.register_at_fork(after_in_child=in_child)


def hold_across_fork(owner: _T, locks: Callable[[_T], Iterable[Any]]) -> None:
    """Before every fork from now on, take ``locks(owner)``; after it, release them in the
    parent and in the child (for as long as ``owner`` lives).

    A lock that another thread of the parent holds at the fork stays held in the child for
    ever: the thread that would release it does not exist there. Holding it across the fork
    makes the fork wait for that thread's work (an export: at most its timeout) instead.
    """
    ref = weakref.ref(owner)
    held: list[Any] = []

    def before() -> None:
        alive = ref()
        if alive is not None:
            held[:] = locks(alive)
            for lock in held:
                lock.acquire()

    def after() -> None:
        for lock in reversed(held):
            lock.release()
        held.clear()

    os.register_at_fork(before=before, after_in_parent=after, after_in_child=after)
