"""The trigger's event, typed: what a wait ends with, and how operators and the sensor accept it (one policy
for both, so neither imports the other). The trigger writes it with ``to_payload`` (Airflow carries a dict
between the triggerer and the task); everyone else reads it with ``from_payload``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_vidgen.core.results import TaskResult

SUCCESS, TIMEOUT, ERROR = "success", "timeout", "error"
EVENT_STATUSES = frozenset({SUCCESS, TIMEOUT, ERROR})
POLL, CALLBACK = "poll", "callback"  # what found the final states

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WaitEvent:
    """The one event of a wait: its status, the vendor tasks and their last known results (in ``task_ids``
    order), a message, and whether a poll or the vendor's callback found the final states."""

    status: str
    conn_id: str
    service: str
    task_ids: tuple[str, ...]
    results: tuple[TaskResult, ...]
    message: str = ""
    via: str = POLL

    def to_payload(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "conn_id": self.conn_id,
            "service": self.service,
            "task_ids": list(self.task_ids),
            "results": [result.to_dict() for result in self.results],
            "message": self.message,
            "via": self.via,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> WaitEvent:
        """The event a task is resumed with; anything but the trigger's own event fails loudly (never as
        success)."""
        if not isinstance(payload, Mapping) or payload.get("status") not in EVENT_STATUSES:
            raise AirflowException(f"unexpected trigger event: {payload!r:.500}")
        try:
            return cls(
                status=payload["status"],
                conn_id=str(payload.get("conn_id") or ""),
                service=str(payload.get("service") or ""),
                task_ids=tuple(str(task_id) for task_id in payload.get("task_ids") or ()),
                results=tuple(TaskResult.from_dict(item) for item in payload.get("results") or ()),
                message=str(payload.get("message") or ""),
                via=str(payload.get("via") or POLL),
            )
        except (TypeError, ValueError) as err:
            raise AirflowException(f"unexpected trigger event ({err}): {payload!r:.500}") from None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    def results_or_raise(self) -> list[TaskResult]:
        """The results of a wait that ended; raises for a timeout or an error, naming every vendor task id."""
        if not self.succeeded:
            states = "; ".join(result.describe() for result in self.results)
            raise AirflowException(f"{self.status}: {self.message} [{states}]")
        return list(self.results)


def received(payload: Any) -> WaitEvent:
    """The event a task was resumed with, read, and the log line that says a callback resumed it."""
    event = WaitEvent.from_payload(payload)
    if event.via == CALLBACK:
        log.info("Resumed by the vendor's callback; every result was confirmed with the vendor's API")
    return event
