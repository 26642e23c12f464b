"""The balance phase of tests/e2e/run_e2e.py: 200 Hailuo videos in one batch on a token whose balance
(the emulator's ``balance_submissions``) pays for 80. The task fails saying to top up, then clear; after the
top-up, a clear through the REST API reattaches to the 80 and submits the 120 others."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator

PROMPTS = [f"e2e balance: a paper lantern, take {n}" for n in range(200)]

with DAG("vidgen_e2e_balance", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    HailuoBatchVideoOperator(
        task_id="generate",
        prompts=PROMPTS,
        deferrable=True,
        poll_interval=2,
        retries=1,  # a used-up balance must not be retried: the task fails on its first try
        retry_delay=pendulum.duration(seconds=0),
    )
