"""The DAGs of benchmarks/ten_thousand.py: N prompts in chunks of 1,000, one mapped batch task per chunk,
on a token whose pace is shared by every chunk (``bench_10k_shared``), paced by each chunk alone
(``bench_10k_unshared``), or shared and finished by the vendor's callbacks (``bench_10k_callbacks``), then
a summary that reads every chunk's results as one list."""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_vidgen.core.batch import batch_chunks
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator
from airflow_provider_vidgen.storage import load_results

N = int(os.environ.get("VIDGEN_BENCH_N", "10000"))
CHUNK = int(os.environ.get("VIDGEN_BENCH_CHUNK", "1000"))
POLL = float(os.environ.get("VIDGEN_BENCH_POLL", "15"))
PROMPTS = [f"bench 10k: a paper boat, take {n}" for n in range(N)]
START = pendulum.datetime(2026, 1, 1, tz="UTC")

for mode in ("shared", "unshared", "callbacks"):
    with DAG(f"bench_10k_{mode}", schedule=None, start_date=START, catchup=False, max_active_tasks=64):
        chunks = HailuoBatchVideoOperator.partial(
            task_id="generate",
            acedata_conn_id=f"acedata_{mode}",
            deferrable=True,
            poll_interval=POLL,
            timeout=7200,
            max_items=CHUNK,
        ).expand_kwargs(batch_chunks(CHUNK, prompts=PROMPTS))

        @task
        def summarize(results: Any) -> dict[str, Any]:
            items = load_results(results)
            in_order = [item["index"] for item in items] == list(range(len(items)))
            return {
                "items": len(items),
                "succeeded": sum(i["state"] == "succeeded" for i in items),
                "in_order": in_order,
            }

        summarize(chunks.output)
