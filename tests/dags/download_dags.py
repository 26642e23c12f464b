"""DAGs the download tests run with dag.test(): generate against the emulator, then download."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Asset

from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator, LumaVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.2
TEST_VIDEOS = Asset("vidgen://videos/test-download")

with DAG(
    "download_pipeline",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"root": "file:///tmp/vidgen-download-test"},
) as pipeline_dag:
    generate = LumaVideoOperator.partial(task_id="generate", deferrable=True, poll_interval=POLL).expand(
        prompt=["a red fox in snow", "a paper boat on a lake"]
    )
    submitted = HailuoVideoOperator.partial(task_id="submit", wait_for_completion=False).expand(
        prompt=["a lighthouse at dusk", "this one fails [fail]"]
    )
    wait = VideoTaskSensor(
        task_id="wait",
        task_ids=submitted.output,
        service="hailuo",
        deferrable=True,
        poke_interval=POLL,
        timeout=60,
        fail_on_failed=False,  # the failed result reaches the download, which skips it
    )
    VideoDownloadOperator(
        task_id="download",
        results=[generate.output, wait.output],
        destination="{{ params.root }}/{{ ds }}/",
        include_thumbnails=True,
        manifest_name="manifest.json",
        outlets=[TEST_VIDEOS],
    )
