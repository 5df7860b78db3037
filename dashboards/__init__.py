"""AMAS Grafana dashboards as code, provisioning and the stack configs of compose.yaml."""
