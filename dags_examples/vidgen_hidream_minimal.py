"""Smallest HiDream pipeline: one text-to-video generation, downloaded to object storage.

Needs the connection ``hidream_default`` (type ``hidream``: Base URL ``https://www.hidreamai.com``,
API token as the password, optional ``user_id`` extra). Videos land in
``<vidgen_video_root>/hidream/<run_id>/`` (Variable ``vidgen_video_root``, default
``file:///tmp/vidgen/videos``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator

with DAG(
    "vidgen_hidream_minimal",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "example"],
    doc_md=__doc__,
) as dag:
    video = HiDreamVideoOperator(
        task_id="generate",
        service="txt2video",
        prompt="A clownfish weaving between anemones, macro lens",
        aspect_ratio="16:9",
        deferrable=True,
    )
    VideoDownloadOperator(
        task_id="download",
        results=video.output,
        destination="{{ var.value.get('vidgen_video_root', 'file:///tmp/vidgen/videos') }}/hidream/{{ run_id }}/",
    )
