"""Smallest Ace Data Cloud pipeline: one Hailuo video, downloaded to object storage.

Needs the connection ``acedata_default`` (type ``acedata``: Base URL ``https://api.acedata.cloud``,
API token as the password). Videos land in ``<vidgen_video_root>/acedata/<run_id>/`` (Variable
``vidgen_video_root``, default ``file:///tmp/vidgen/videos``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator

with DAG(
    "vidgen_acedata_minimal",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "example"],
    doc_md=__doc__,
) as dag:
    video = HailuoVideoOperator(
        task_id="generate",
        prompt="A paper boat drifting across a moonlit lake",
        deferrable=True,  # wait in the triggerer, not on a worker
    )
    VideoDownloadOperator(
        task_id="download",
        results=video.output,
        destination="{{ var.value.get('vidgen_video_root', 'file:///tmp/vidgen/videos') }}/acedata/{{ run_id }}/",
    )
