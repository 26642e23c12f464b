"""The limits phase of tests/e2e/run_e2e_prod.py: 100 Hailuo videos as four mapped batch chunks on one token
(the default connection: the vendor's published limits kept through the shared Redis store), against an
emulator that enforces them (5 in flight per token, submissions answered in 1 s)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.core.batch import batch_chunks
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator

ITEMS, CHUNK = 100, 25
PROMPTS = [f"p6-limits #{n}: a red fox in fresh snow" for n in range(ITEMS)]

with DAG("vidgen_limits_chunks", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    HailuoBatchVideoOperator.partial(
        task_id="generate",
        deferrable=True,
        poll_interval=2,
        timeout=1800,
        max_items=CHUNK,
    ).expand_kwargs(batch_chunks(CHUNK, prompts=PROMPTS))
