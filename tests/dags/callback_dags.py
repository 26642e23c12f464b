"""DAGs of tests/test_callbacks.py: generations submitted with callback URLs (the connection has a
callback_base_url), without waiting, so a test can put their task instances into the deferred state
the receiver looks for."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG("callback_owner", schedule=None, start_date=START, catchup=False) as owner_dag:
    HailuoVideoOperator(task_id="single", prompt="a callback kite", wait_for_completion=False)
    HailuoBatchVideoOperator(
        task_id="batch", prompts=["a callback fox", "a callback heron", "a callback boat"], wait_for_completion=False
    )
    HiDreamVideoOperator(task_id="hidream", prompt="a callback clownfish", wait_for_completion=False)

with DAG("callback_inline", schedule=None, start_date=START, catchup=False) as inline_dag:
    # Waits in its worker slot: nothing could resume it, so it polls at its own interval and asks no callback.
    HailuoVideoOperator(
        task_id="inline", prompt="a kite waited for inline", deferrable=False, poll_interval=0.2,
        safety_poll_interval=3600, timeout=60,
    )  # fmt: skip
