"""AMAS Grafana dashboards as code (grafana-foundation-sdk), written to dashboards/json/.

    python -m dashboards.generate            # (re)write dashboards/json/*.json
    python -m dashboards.generate --check    # exit 1 if the committed JSON is stale

Grafana loads the JSON through dashboards/provisioning/dashboards/provider.yaml. Each board
is a module of dashboards/boards/ built from the helpers of :mod:`dashboards.panels`; metric
and label names come from :mod:`dashboards.metrics` and :mod:`dashboards.boards.names`,
recording-rule names from :mod:`dashboards.recording`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.boards.ai_providers import ai_providers
from dashboards.boards.database_cache import database_cache
from dashboards.boards.http_api import http_api
from dashboards.boards.infrastructure import infrastructure
from dashboards.boards.overview import overview
from dashboards.boards.pipeline import pipeline
from dashboards.boards.system import system
from dashboards.boards.tasks_agents import tasks_agents

JSON_DIR = Path(__file__).resolve().parent / "json"

DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "overview.json": overview,
    "tasks-agents.json": tasks_agents,
    "ai-providers.json": ai_providers,
    "http-api.json": http_api,
    "database-cache.json": database_cache,
    "system.json": system,
    "infrastructure.json": infrastructure,
    "pipeline.json": pipeline,
}


def _number_panels(model: dict[str, Any]) -> dict[str, Any]:
    """Stable panel ids (1, 2, ...) in layout order: links to a panel survive regeneration."""
    for panel_id, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = panel_id
    return model


def build_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model, as plain data."""
    models = {}
    for file_name, make in DASHBOARDS.items():
        models[file_name] = _number_panels(json.loads(json.dumps(make().build(), cls=JSONEncoder)))
    return models


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if dashboards/json differs from the generator"
    )
    args = parser.parse_args(argv)
    stale = []
    for file_name, model in build_all().items():
        path = JSON_DIR / file_name
        text = render(model)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            JSON_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("stale (run python -m dashboards.generate):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
