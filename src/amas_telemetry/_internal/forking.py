"""Fork safety: state a forked child must not share with its parent.

A gunicorn ``--preload`` master configures telemetry and then forks its workers; a child
inherits locks that a thread of the parent may have held at the fork, threads that do not
run in the child, and identities (spool files, instance ids) that must be its own.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import TypeVar

__all__ = ["renew_after_fork"]

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
