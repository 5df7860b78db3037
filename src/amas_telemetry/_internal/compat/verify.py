"""Each reach into another package's internals, checked before ``configure()`` builds anything.

A :class:`Reach` names the package, what we use of it and why, and a check that raises when
the installed version no longer has it. :func:`verify` runs the checks of every reach once per
process; a failure is one :class:`UnsupportedDependency` (a :class:`ConfigError`) naming the
package and its installed version, so an upgrade that moved an internal stops the app at
start-up instead of silently turning off derived metrics or scrubbing at run time.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from amas_telemetry._internal.errors import ConfigError

__all__ = ["Reach", "UnsupportedDependency", "installed_version", "require", "verify", "verify_all"]


class UnsupportedDependency(ConfigError):
    """An installed package lacks an internal amas_telemetry relies on: a version it does not support."""


@dataclass(frozen=True)
class Reach:
    """One use of another package's internals."""

    package: str
    """The distribution, as pip names it (``opentelemetry-sdk``)."""
    what: str
    """What we use and why, in a few words (shown in the error)."""
    check: Callable[[], object]
    """Raises (any exception) when the installed version does not have it."""
    module: str | None = None
    """Only checked when this module can be imported (an optional integration); None: always."""


def require(condition: object, what: str) -> None:
    """A check's condition (not ``assert``: ``python -O`` would remove the check)."""
    if not condition:
        raise LookupError(what)


def installed_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _our_version() -> str:
    from amas_telemetry._version import __version__

    return __version__


def verify(reaches: Iterable[Reach]) -> None:
    """Run every reach's check; the first that fails raises :class:`UnsupportedDependency`."""
    for reach in reaches:
        if reach.module is not None and importlib.util.find_spec(reach.module.partition(".")[0]) is None:
            continue
        try:
            reach.check()
        except Exception as error:
            raise UnsupportedDependency(
                f"amas_telemetry {_our_version()} does not support {reach.package} "
                f"{installed_version(reach.package)}: {reach.what} is not there "
                f"({type(error).__name__}: {error}). Install a {reach.package} version within the "
                "range amas-telemetry declares (pip show amas-telemetry), or upgrade amas-telemetry."
            ) from None


def all_reaches() -> tuple[Reach, ...]:
    from amas_telemetry._internal.compat import re2_engine, sdk, servers, starlette

    return (*sdk.REACHES, *starlette.REACHES, *servers.REACHES, *re2_engine.REACHES)


@functools.cache
def verify_all() -> None:
    """:func:`verify` over every reach of the library, once per process."""
    verify(all_reaches())
