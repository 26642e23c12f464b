"""The trigger's event: its statuses, and how operators and the sensor accept it (one policy for both,
so neither imports the other)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_vidgen.core.results import TaskResult

SUCCESS, TIMEOUT, ERROR = "success", "timeout", "error"
EVENT_STATUSES = frozenset({SUCCESS, TIMEOUT, ERROR})
POLL, CALLBACK = "poll", "callback"  # the event's "via": what found the final states

log = logging.getLogger(__name__)


def check_event(event: Any) -> dict[str, Any]:
    """Accept only the trigger's own event statuses; anything else fails loudly (never as success)."""
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"unexpected trigger event: {event!r}")
    if event.get("via") == CALLBACK:
        log.info("Resumed by the vendor's callback; every result was confirmed with the vendor's API")
    return event


def event_results(event: dict[str, Any]) -> list[TaskResult]:
    return [TaskResult.from_dict(item) for item in event.get("results") or []]


def raise_for_event(event: dict[str, Any]) -> list[TaskResult]:
    """Raise for timeout/error events (naming every vendor task id), return the results otherwise."""
    results = event_results(event)
    if event["status"] != SUCCESS:
        states = "; ".join(result.describe() for result in results)
        raise AirflowException(f"{event['status']}: {event.get('message')} [{states}]")
    return results
