"""Logs written inside the worker carry the trace of the request that queued the task."""

from __future__ import annotations

from opentelemetry.trace import format_span_id, format_trace_id


async def test_worker_log_lines_carry_the_task_trace(start_service):
    service = await start_service()
    task_id = await service.submit("research")
    await service.wait_done([task_id])

    request = service.server_span("POST /tasks")
    (task,) = [s for s in service.spans() if s.name == "task research"]
    trace_id = format_trace_id(request.context.trace_id)
    assert task.context.trace_id == request.context.trace_id

    lines = {line["message"]: line for line in service.logs()}
    accepted = lines[f"task {task_id} accepted: type research, priority normal"]
    assert accepted["trace_id"] == trace_id
    assert accepted["span_id"] == format_span_id(request.context.span_id)
    assert accepted["logger"] == "amas_service.routes"

    completed = next(line for msg, line in lines.items() if msg.startswith(f"task {task_id} completed"))
    assert completed["logger"] == "amas_service.worker"
    assert completed["trace_id"] == trace_id
    assert completed["span_id"] == format_span_id(task.context.span_id)
    assert completed["trace_sampled"] is True
    assert completed["service.name"] == "amas-service"

    # every agent's line belongs to the same trace, on its own agent span
    agent_lines = [line for line in service.logs() if line["logger"] == "amas_service.agents"]
    agent_spans = {
        format_span_id(s.context.span_id) for s in service.spans() if s.name.startswith("invoke_agent ")
    }
    assert len(agent_lines) == 5
    assert {line["trace_id"] for line in agent_lines} == {trace_id}
    assert {line["span_id"] for line in agent_lines} == agent_spans

    # the OTLP log path carries the same ids
    (record,) = [
        r for r in service.captured.logs() if str(r.log_record.body).startswith(f"task {task_id} completed")
    ]
    assert record.log_record.trace_id == task.context.trace_id
    assert record.log_record.span_id == task.context.span_id


async def test_logs_outside_a_request_have_no_trace(start_service):
    service = await start_service(workers=1)
    await service.stop()
    started = [line for line in service.logs() if line["message"].startswith("worker 0 ")]
    assert [line["message"] for line in started] == ["worker 0 started", "worker 0 stopped"]
    assert all(line["trace_id"] is None for line in started)
