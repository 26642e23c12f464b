"""The two DAGs benchmarks/batch_vs_mapped.py runs: the same N prompts as one batch task, and as N mapped tasks."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator

N = int(os.environ.get("VIDGEN_BENCH_N", "1000"))
POLL = float(os.environ.get("VIDGEN_BENCH_POLL", "5"))
PROMPTS = [f"bench: a paper boat, take {n}" for n in range(N)]
START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG("bench_batch", schedule=None, start_date=START, catchup=False, max_active_tasks=64):
    HailuoBatchVideoOperator(
        task_id="generate", prompts=PROMPTS, max_items=max(N, 1), deferrable=True, poll_interval=POLL, timeout=3600
    )

with DAG("bench_mapped", schedule=None, start_date=START, catchup=False, max_active_tasks=64):
    HailuoVideoOperator.partial(task_id="generate", deferrable=True, poll_interval=POLL, timeout=3600).expand(
        prompt=PROMPTS
    )
