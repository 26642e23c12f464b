"""A DAG on the toy vendor (tests/toy_vendor, installed as its own distribution), through the generic operators,
the sensor and the download. Nothing registers the vendor here: the provider finds it by its entry point."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.operators.generic import BatchVideoGenerationOperator, VideoGenerationOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
WAIT = {"deferrable": True, "poll_interval": 0.2, "timeout": 60}

with DAG("toy_vendor", schedule=None, start_date=START, catchup=False) as toy_dag:
    one = VideoGenerationOperator(task_id="one", vendor="toy", service="clip", body={"prompt": "a toy boat"}, **WAIT)
    batch = BatchVideoGenerationOperator(
        task_id="batch",
        vendor="toy",
        service="clip",
        bodies=[{"prompt": "a toy fox", "seconds": 3}, {"prompt": "a toy heron"}],
        **WAIT,
    )
    submitted = VideoGenerationOperator(
        task_id="submit_only", vendor="toy", service="clip", body={"prompt": "a toy kite"}, wait_for_completion=False
    )
    waited = VideoTaskSensor(
        task_id="wait", task_ids=submitted.output, service="clip", conn_id="toyvideo_default", poke_interval=0.2,
        deferrable=True, timeout=60,
    )  # fmt: skip
    VideoDownloadOperator(
        task_id="download",
        results=[one.output, batch.output, waited.output],
        destination="{{ var.value.vidgen_toy_videos }}/{{ run_id }}",  # the test sets AIRFLOW_VAR_VIDGEN_TOY_VIDEOS
    )
