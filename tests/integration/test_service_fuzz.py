"""Schemathesis against the reference service's OpenAPI: no generated input gets a 5xx.

Valid and invalid requests (schemathesis' positive and negative generation) for every
operation, over a real socket (uvicorn on 127.0.0.1, serving the service that the integration
fixtures start on real PostgreSQL and Redis). Bounded for CI: a fixed number of examples per
operation and mode, derandomized. Bad input is a 4xx, never an outage: no ERROR log line, and
every task the service accepted is stored.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("AMAS_FUZZ_EXAMPLES", "40"))


def _fuzz(openapi: dict[str, Any], base_url: str) -> tuple[list[str], list[str]]:
    """Runs in a thread (schemathesis calls are blocking); returns (5xx seen, accepted task ids)."""
    failures: list[str] = []
    accepted: list[str] = []
    schema = schemathesis.openapi.from_dict(openapi)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Any) -> None:
                response = case.call(base_url=base_url, timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {case}")
                elif case.method == "POST" and case.path == "/tasks" and response.status_code == 202:
                    accepted.append(response.json()["id"])

            try:
                call()
            except Unsatisfiable:  # an operation with no input has no invalid form (GET /health)
                assert mode is GenerationMode.NEGATIVE, operation.label
    return failures, accepted


# schemathesis' strategies draw from `random` (hypothesis deprecates it; not ours to fix)
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_no_generated_request_gets_a_5xx_or_loses_a_task(start_service):
    service = await start_service(workers=1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(service.app, lifespan="off", log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        failures, accepted = await asyncio.to_thread(_fuzz, service.app.openapi(), f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await serving
        sock.close()
    assert failures == []
    errors = [line for line in service.logs() if line["level"] in ("ERROR", "CRITICAL")]
    assert errors == []
    for task_id in accepted:  # stored before the 202 was sent
        assert await service.task_row(task_id) is not None
