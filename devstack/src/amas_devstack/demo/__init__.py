"""The AMAS demo: the service and its servers on 127.0.0.1, a load, and a report read from
the service's own /metrics and logs. ``amas-demo`` runs it (:mod:`amas_devstack.demo.cli`).

- :mod:`.service`: start PostgreSQL, Redis, the fake providers and the service (``Run``)
- :mod:`.load`: the requests (tasks, reads, logins, events, bad requests)
- :mod:`.drive`: the load with a provider outage in the middle, with progress
- :mod:`.metrics`: one parsed scrape of /metrics
- :mod:`.report`: the summary, one function a section
- :mod:`.stack`: the native stack behind it, and links into it
"""

import sys


def say(message: str) -> None:
    """A progress line on stderr (stdout carries the report)."""
    print(message, file=sys.stderr, flush=True)
