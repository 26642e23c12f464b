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
