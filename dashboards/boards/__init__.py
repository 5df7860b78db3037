"""Dashboards of the infrastructure and of the telemetry pipeline itself.

Each module builds one board from the Collector's scraping receivers (hostmetrics, redis,
pgstats, prometheus); dashboards/generate.py registers them next to the service's boards.
The Prometheus names they read are spelled once, in :mod:`dashboards.boards.names`.
"""
