"""Chunked batches (tests/test_chunks.py): seven prompts in chunks of three through .expand_kwargs, one
chunk's first try dying mid-way, and a download over every chunk's results."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import DAG, task

from airflow_provider_vidgen.core.batch import batch_chunks
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.storage import load_results
from dags.faults import failing_submissions

START = pendulum.datetime(2026, 1, 1, tz="UTC")
PROMPTS = [f"a chunked lighthouse, take {n}" for n in range(7)]
DIES = PROMPTS[4]  # chunk 1's second item: try 1 of that chunk dies when it reaches it


class OneChunkDiesOnce(HailuoBatchVideoOperator):
    def execute(self, context: Any) -> Any:
        self._first_try_of_chunk_1 = context["ti"].try_number == 1 and context["ti"].map_index == 1
        return super().execute(context)

    def get_hook(self) -> Any:
        def fail(submission: Any, send: Any) -> str:
            if submission.body["prompt"] == DIES:
                raise AirflowException("worker lost (simulated) in chunk 1")
            return send()

        hook = super().get_hook()
        return failing_submissions(hook, fail) if self._first_try_of_chunk_1 else hook


with DAG("chunked_batches", schedule=None, start_date=START, catchup=False) as chunk_dag:
    chunks = OneChunkDiesOnce.partial(
        task_id="gen", deferrable=True, poll_interval=0.2, retries=1, retry_delay=pendulum.duration(seconds=0)
    ).expand_kwargs(batch_chunks(3, prompts=PROMPTS))

    download = VideoDownloadOperator(
        task_id="download", results=chunks.output, destination="{{ var.value.vidgen_chunk_videos }}/{{ run_id }}"
    )

    @task
    def summarize(results: Any) -> list[dict[str, Any]]:
        """The summary a user writes: every chunk's results as one list, in prompt order."""
        return [
            {"index": item["index"], "prompt": item["prompt"], "state": item["state"]} for item in load_results(results)
        ]

    summarize(chunks.output)
