"""Tempo, Loki and Grafana configs held against the references of the versions compose pins."""
