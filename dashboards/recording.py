"""Names of the recording rules in ``rules/recording.yml`` that the dashboards read.

The rules are YAML and spell their own names; the dashboards spell them only here.
tests/dashboards/test_recording.py checks that every name below is a ``record`` of
rules/recording.yml, and that every recording rule the README names exists.
"""

from __future__ import annotations

from typing import Final

# --- HTTP server ---------------------------------------------------------------------------------
ROUTE_ERROR_RATIO: Final = "job_route:http_server_request_errors:ratio_rate5m"
#: 5xx ratio of the whole service over the windows of the burn-rate alerts (SLO 99.5 %)
SERVICE_ERROR_RATIO: Final[dict[str, str]] = {
    "5m": "job:http_server_request_errors:ratio_rate5m",
    "30m": "job:http_server_request_errors:ratio_rate30m",
    "1h": "job:http_server_request_errors:ratio_rate1h",
    "6h": "job:http_server_request_errors:ratio_rate6h",
}

# --- tasks and agents ----------------------------------------------------------------------------
TASK_SUCCESS_RATIO: Final = "job_task_type:amas_task_success:ratio_rate5m"
AGENT_ERROR_RATIO: Final = "job_agent:amas_agent_errors:ratio_rate5m"

# --- AI providers and cost -----------------------------------------------------------------------
PROVIDER_ERROR_RATIO: Final = "job_provider:gen_ai_client_operation_errors:ratio_rate5m"
COST_PER_HOUR_5M: Final = "job:amas_ai_cost_usd_per_hour:rate5m"
COST_PER_HOUR_1H: Final = "job:amas_ai_cost_usd_per_hour:rate1h"

# --- database ------------------------------------------------------------------------------------
POOL_USAGE: Final = "job_instance_pool:db_client_connections_used:ratio"


#: every name above (tests/dashboards/test_recording.py checks each against rules/)
ALL: Final = (
    ROUTE_ERROR_RATIO,
    *SERVICE_ERROR_RATIO.values(),
    TASK_SUCCESS_RATIO,
    AGENT_ERROR_RATIO,
    PROVIDER_ERROR_RATIO,
    COST_PER_HOUR_5M,
    COST_PER_HOUR_1H,
    POOL_USAGE,
)
