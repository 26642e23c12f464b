"""The DAGs of benchmarks/vendor_limits.py: Hailuo prompts as mapped batch chunks, and Sora prompts in one
batch, each on a connection that keeps the vendor's published limits (``now``: the defaults) and on one
that does not (``before``: ``max_in_flight`` 0 and no per-service submit rate)."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.core.batch import batch_chunks
from airflow_provider_vidgen.operators.acedata import AceDataBatchVideoOperator, HailuoBatchVideoOperator

HAILUO_N = int(os.environ.get("VIDGEN_LIMITS_HAILUO_N", "600"))
CHUNK = int(os.environ.get("VIDGEN_LIMITS_CHUNK", "200"))
SORA_N = int(os.environ.get("VIDGEN_LIMITS_SORA_N", "40"))
POLL = float(os.environ.get("VIDGEN_LIMITS_POLL", "5"))
START = pendulum.datetime(2026, 1, 1, tz="UTC")

for mode in ("before", "now"):
    with DAG(f"bench_limits_hailuo_{mode}", schedule=None, start_date=START, catchup=False, max_active_tasks=16):
        HailuoBatchVideoOperator.partial(
            task_id="generate",
            acedata_conn_id=f"acedata_{mode}",
            deferrable=True,
            poll_interval=POLL,
            timeout=3600,
            max_items=CHUNK,
        ).expand_kwargs(batch_chunks(CHUNK, prompts=[f"limits: a fox, take {n}" for n in range(HAILUO_N)]))

    with DAG(f"bench_limits_sora_{mode}", schedule=None, start_date=START, catchup=False):
        AceDataBatchVideoOperator(
            task_id="generate",
            acedata_conn_id=f"acedata_{mode}",
            service="sora",
            bodies=[{"model": "sora-2", "prompt": f"limits: a paper boat, take {n}"} for n in range(SORA_N)],
            deferrable=True,
            poll_interval=POLL,
            timeout=3600,
            max_items=max(SORA_N, 1),
        )
