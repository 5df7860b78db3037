"""The low-level interface of google-re2 that redaction scans with.

``re2._re2.RE2`` (the pybind11 class under the public ``re2`` module) matches at a position
with an anchor and returns every group's span in one call, on bytes; the public wrapper builds
a match object per call (several times slower on the hot path of every span and log line).
Every redaction rule is compiled when amas_telemetry is imported, so this reach is checked
then, with the same error ``configure()`` gives for the others.
"""

from __future__ import annotations

from amas_telemetry._internal.compat.verify import Reach, UnsupportedDependency, installed_version

__all__ = ["ANCHOR_START", "RE2", "REACHES", "UNANCHORED"]

try:
    from re2 import _re2

    RE2 = _re2.RE2
    UNANCHORED = RE2.Anchor.UNANCHORED
    ANCHOR_START = RE2.Anchor.ANCHOR_START
except (ImportError, AttributeError) as error:  # pragma: no cover - exercised by a subprocess test
    from amas_telemetry._version import __version__

    raise UnsupportedDependency(
        f"amas_telemetry {__version__} does not support google-re2 {installed_version('google-re2')}: "
        f"re2._re2.RE2 with its Anchor values is not there ({type(error).__name__}: {error}). Install a "
        "google-re2 version within the range amas-telemetry declares (pip show amas-telemetry)."
    ) from None

REACHES: tuple[Reach, ...] = (
    Reach("google-re2", "re2._re2.RE2.Match with anchors (linear-time redaction)", lambda: RE2.Match),
)
