"""One module per Grafana board; dashboards/generate.py registers them and writes the JSON.

Each module lists its sections as ``(row title, [panels])`` built with :mod:`dashboards.panels`
and returns :func:`dashboards.panels.assemble` of them. The service's boards read the names of
:mod:`dashboards.metrics` and :mod:`dashboards.recording`; the infrastructure and pipeline boards
read the Collector's scraping receivers, whose Prometheus names are spelled once, in
:mod:`dashboards.boards.names`.
"""
