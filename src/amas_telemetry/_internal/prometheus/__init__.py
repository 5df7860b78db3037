"""``/metrics`` (import: ``compat``, ``catalog``).

``endpoint``: the pull reader and its rendering; ``route``: the FastAPI route; ``exposition``
and ``snapshots``: the SDK's state as plain data, rendered by prometheus_client; ``workers``
and ``worker_group``: one app's totals across uvicorn/gunicorn workers.
"""
