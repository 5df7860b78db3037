"""Logs past one node: VictoriaLogs cluster mode (2 storage nodes behind one insert and one
select node) fed by the Collector; one storage node killed under load (fixture ``scaled``).

What a lost storage node means, as measured here (docs/scaling.md):

- **writes** go on: the insert node sends each block to a live storage node (it re-sends a
  block the dead node refused to another one); the Collector sees no error;
- **reads** fail (HTTP 502) while a storage node is down, so no answer silently misses that
  node's share; ``allow_partial_response=1`` answers from the nodes that are up;
- a crash (``kill -9``) loses what the node had acknowledged but not written to disk yet:
  VictoriaLogs has no write-ahead log; rows wait in memory until an in-memory part is written
  out (``-inmemoryDataFlushInterval``, 1 s on our storage nodes, is not a bound under a steady
  stream of small inserts: a part being merged when the flusher runs waits for the next run);
  the rest of its data is back with it. A planned restart (SIGTERM) loses nothing: the node
  writes out its memory before it exits.
"""

from __future__ import annotations

from collections import Counter

import pytest
from scaled_stack import SERVICE, Scaled, log_key, logsql, produced_log_lines, stored_log_rows, wait_for

pytestmark = pytest.mark.scale


def test_reads_fail_while_a_storage_node_is_down_unless_partial(scaled: Scaled):
    seen = scaled.log_node_outage.observed
    assert seen["select_status"] == 502, seen
    assert seen["partial_status"] == 200, seen
    assert int(seen["partial_rows"][0]["count(*)"]) > 0, seen


def _wait_stored(scaled: Scaled) -> tuple[Counter, Counter]:
    produced = Counter(log_key(line) for line in produced_log_lines(scaled.run))

    def settled() -> Counter | None:
        rows = stored_log_rows(scaled.logs.select_url)
        return rows if not (produced - rows) else None

    try:
        rows = wait_for("every log line in the cluster", settled, timeout=30, interval=3)
    except AssertionError:
        rows = stored_log_rows(scaled.logs.select_url)
    return produced, rows


def test_lines_written_while_the_node_was_down_are_all_stored(scaled: Scaled):
    outage = scaled.log_node_outage
    during = [
        line
        for line in produced_log_lines(scaled.run)
        if outage.killed_at + 1.0 <= _timestamp(line) <= outage.back_at
    ]
    assert len(during) > 20, f"only {len(during)} log lines during the outage"
    _, rows = _wait_stored(scaled)
    missing = [line for line in during if rows[log_key(line)] == 0]
    assert not missing, f"{len(missing)} of {len(during)} lines written during the outage are missing"


def test_a_crash_costs_only_rows_from_before_it_and_a_planned_restart_nothing(
    scaled: Scaled, scale_summary: list[str]
):
    """Lost lines, if any, were all written before the kill -9 (the dead node's unflushed
    rows); none from the outage, the restart, the planned restart (SIGTERM: the node writes
    out its memory first) or after."""
    produced, rows = _wait_stored(scaled)
    crash, planned = scaled.log_node_outage, scaled.log_node_restart
    lost_lines = [line for line in produced_log_lines(scaled.run) if (produced - rows)[log_key(line)]]
    lost_at = sorted(round(_timestamp(line) - crash.killed_at, 1) for line in lost_lines)
    total, duplicates = sum(produced.values()), sum((rows - produced).values())
    scale_summary.append(
        f"VictoriaLogs cluster: kill -9 of the storage node holding the stream lost {len(lost_lines)} of "
        f"{total} log lines (written {lost_at[:1]}..{lost_at[-1:]} s from the kill); a planned restart "
        f"{planned.killed_at - crash.killed_at:.0f} s later lost none; {duplicates} duplicates"
    )
    assert all(at <= 0.5 for at in lost_at), f"lost lines written at {lost_at} s from the kill"
    assert planned.back_at > planned.killed_at > crash.back_at


def test_the_trace_to_logs_query_works_through_the_select_node(scaled: Scaled):
    """The trace→logs link runs the same LogsQL (``trace_id:="<id>"``) against the select
    node that it runs against a single VictoriaLogs: only the host differs."""
    lines = produced_log_lines(scaled.run)
    # a trace logged after both restarts, when both storage nodes were up again
    after = scaled.log_node_restart.back_at + 1
    started = {line["trace_id"] for line in lines if line.get("trace_id") and _timestamp(line) < after}
    finished = {
        line["trace_id"]
        for line in lines
        if line.get("trace_id") and "completed" in line.get("message", "") and line["trace_id"] not in started
    }
    assert finished, "no task ran wholly after the storage nodes were back"
    trace_id = next(line["trace_id"] for line in lines if line.get("trace_id") in finished)
    expected = Counter(log_key(line) for line in lines if line.get("trace_id") == trace_id)
    status, found, error = logsql(scaled.logs.select_url, f'trace_id:="{trace_id}"', limit="1000")
    assert status == 200, error
    got = Counter((r.get("trace_id", ""), r.get("span_id", ""), r.get("_msg", "")) for r in found)
    assert expected - got == Counter(), f"lines of {trace_id} missing through the select node"
    assert all(r.get("service.name") == SERVICE for r in found)


def _timestamp(line: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()
