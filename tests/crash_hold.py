"""Test-only: hold a worker in the crash window, so a test can kill it there with SIGKILL.

The submitter calls ``operators.submitter.after_submission_answer`` with each vendor task id between the
vendor's answer and the moment it records the id; in the product that call does nothing. A worker process
started by a test installs :func:`hold_in_the_crash_window`, which writes the id to a file (the test's
signal that the moment has come) and then waits, bounded, for the test to kill the process.
"""

from __future__ import annotations

import time
from pathlib import Path

from airflow_provider_vidgen.operators import submitter

HOLD_SECONDS = 120.0  # bounded: the test kills the process well before


def hold_in_the_crash_window(answered: Path) -> None:
    """From now on, in this process: after the vendor's answer, write its task id to ``answered`` and wait."""

    def hold(task_id: str) -> None:
        # written whole, then renamed: the test waits for the file and must never read it half-written
        partial = answered.with_name(f"{answered.name}.partial")
        partial.write_text(task_id)
        partial.replace(answered)
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.1)

    submitter.after_submission_answer = hold
