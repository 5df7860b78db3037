"""``python -m amas_service``: the AMAS service under uvicorn.

Settings come from ``AMAS_*`` variables (see settings.py); these options override them.
Telemetry settings are amas_telemetry's (``OTEL_EXPORTER_OTLP_ENDPOINT`` etc.).
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from amas_service.app import create_app
from amas_service.settings import Settings, SettingsError

KEEP_ALIVE_SECONDS = 75
"""How long an idle client connection stays open (uvicorn's default: 5 s).

It must outlast the idle time after which clients stop reusing a pooled connection (httpx:
5 s; proxies and load balancers: often 60 s). With uvicorn's 5 s the server closes an idle
connection just as a client sends its next request on it: the request dies with a reset
(``httpx.ReadError``) although the service never saw it. 75 s is nginx's usual keep-alive."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amas_service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, help="task workers (asyncio tasks) [AMAS_WORKERS, 4]")
    parser.add_argument("--database-url", help="postgresql://user:password@host:port/db [AMAS_DATABASE_URL]")
    parser.add_argument("--redis-url", help="redis://[:password@]host:port/db [AMAS_REDIS_URL]")
    parser.add_argument("--providers", help="name[:model]=url,... in fallback order [AMAS_PROVIDERS]")
    parser.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=KEEP_ALIVE_SECONDS,
        help=f"seconds an idle client connection stays open [{KEEP_ALIVE_SECONDS}]",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(
            workers=args.workers,
            database_url=args.database_url,
            redis_url=args.redis_url,
            providers=args.providers,
        )
    except SettingsError as error:
        print(f"amas_service: {error}", file=sys.stderr)
        return 2
    app = create_app(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per provider call: the spans say it
    # log_config=None: uvicorn's loggers go to the root logger, i.e. amas_telemetry's JSON handler
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=args.timeout_keep_alive,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
