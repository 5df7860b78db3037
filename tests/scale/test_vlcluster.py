"""Logs past one node: VictoriaLogs cluster mode (2 storage nodes behind one insert and one
select node) fed by the Collector; one storage node killed under load (fixture ``scaled``).

What a lost storage node means, as measured here (docs/scaling.md):

- **writes** go on: the insert node sends each block to a live storage node (it re-sends a
  block the dead node refused to another one); the Collector sees no error;
- **reads** fail (HTTP 502) while a storage node is down, so no answer silently misses that
  node's share; ``allow_partial_response=1`` answers from the nodes that are up;
- what the killed node had acknowledged but not yet written to disk is lost (VictoriaLogs
  buffers incoming rows in memory for up to a second); the rest of its data is back with it.
"""

from __future__ import annotations

from collections import Counter

import pytest
from scaled_stack import SERVICE, Scaled, log_key, logsql, produced_log_lines, stored_log_rows, wait_for

pytestmark = pytest.mark.scale

#: the share of the log lines a kill -9 of a storage node may cost: its unflushed buffer
#: (<= ~1 s of its half of the rows) out of the whole run
MAX_LOST_SHARE = 0.05


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


def test_a_killed_storage_node_costs_at_most_its_unflushed_buffer(scaled: Scaled, scale_summary: list[str]):
    produced, rows = _wait_stored(scaled)
    lost = sum((produced - rows).values())
    duplicates = sum((rows - produced).values())
    total = sum(produced.values())
    scale_summary.append(
        f"VictoriaLogs cluster, kill -9 of a storage node: {lost} of {total} log lines lost, "
        f"{duplicates} duplicates"
    )
    assert lost <= MAX_LOST_SHARE * total, f"{lost} of {total} lines lost"


def test_the_trace_to_logs_query_works_through_the_select_node(scaled: Scaled):
    """The trace→logs link runs the same LogsQL (``trace_id:="<id>"``) against the select
    node that it runs against a single VictoriaLogs: only the host differs."""
    lines = produced_log_lines(scaled.run)
    finished = {
        line["trace_id"] for line in lines if line.get("trace_id") and "completed" in line.get("message", "")
    }
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
