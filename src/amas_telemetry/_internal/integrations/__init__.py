"""Instrumented frameworks and clients (import: ``compat``, ``tracing``).

``asgi``: our HTTP server span, a pure-ASGI middleware; ``instrument``: wiring FastAPI apps and
the contrib instrumentors of asyncpg, redis and httpx (reference-counted across handles).
"""
