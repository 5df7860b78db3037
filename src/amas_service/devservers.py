"""Moved to :mod:`amas_devstack` (servers, providers, processes, ports); these names stay
importable from here for code written against the old place."""

from amas_devstack.ports import free_port
from amas_devstack.processes import ServerError, stop_pid
from amas_devstack.providers import FakeProviderProcess
from amas_devstack.servers import PostgresServer, RedisServer, find_postgres_bin, find_redis_server

__all__ = [
    "FakeProviderProcess",
    "PostgresServer",
    "RedisServer",
    "ServerError",
    "find_postgres_bin",
    "find_redis_server",
    "free_port",
    "stop_pid",
]
