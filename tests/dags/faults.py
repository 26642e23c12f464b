"""Faults the test DAGs inject into a hook (a module of no DAGs: DAG files import it without bringing
another file's DAGs along)."""

from __future__ import annotations

from typing import Any


def failing_submissions(hook: Any, fail: Any) -> Any:
    """``hook`` whose ``send_submission`` calls ``fail(submission, send)`` instead (a worker dying around it)."""
    send = hook.send_submission

    def send_submission(submission: Any, **kwargs: Any) -> str:
        return fail(submission, lambda: send(submission, **kwargs))

    hook.send_submission = send_submission
    return hook


def from_upstream(task_id: str, values: Any) -> Any:
    """``values`` as an upstream task's XCom (a task in the current DAG): a mapped argument that is resolved when
    the task runs, so it is checked then (before any request) and not when the DAG is parsed."""
    from airflow.sdk import task

    @task(task_id=task_id)
    def given() -> Any:
        return values

    return given()
