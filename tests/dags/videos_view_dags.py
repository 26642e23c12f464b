"""The run the Videos view tests read: a batch of three, a mapped generation with one failure, and a
download of both (with posters), run with dag.test() against the emulator."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, LumaVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator

POLL = 0.2
BATCH_PROMPTS = ["a kite over dunes", "a tram in the rain", "a candle in the wind"]
MAPPED_PROMPTS = ["a heron taking off", "this one fails [fail]"]

with DAG(
    "videos_view",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"root": "file:///tmp/vidgen-videos-view"},
) as videos_view_dag:
    batch = HailuoBatchVideoOperator(task_id="batch", prompts=BATCH_PROMPTS, deferrable=True, poll_interval=POLL)
    mapped = LumaVideoOperator.partial(task_id="mapped", deferrable=True, poll_interval=POLL).expand(
        prompt=MAPPED_PROMPTS
    )
    VideoDownloadOperator(
        task_id="download",
        results=[batch.output, mapped.output],
        destination="{{ params.root }}/{{ run_id }}/",
        include_thumbnails=True,
        trigger_rule="all_done",
    )

with DAG("videos_view_other", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as other_dag:
    LumaVideoOperator(task_id="other", prompt="a fox", deferrable=True, poll_interval=POLL)
