"""A third-party vendor under a real scheduler, triggerer and API server, for ``make e2e``.

The toy vendor (``tests/toy_vendor``) is its own distribution, installed in the venv; nothing in this file
registers it: every process finds it through its entry point. Its connection (``toyvideo_default``,
created by the e2e through the REST API) has a ``callback_base_url``, and each task waits with a safety
poll of an hour, so only the toy vendor's callbacks, received by the API server, can finish it in time.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.operators.generic import BatchVideoGenerationOperator, VideoGenerationOperator

SAFETY_POLL = 3600  # far beyond the e2e's budget: a task that ends did so by its callback

with DAG(
    "vidgen_toy",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "e2e"],
    doc_md=__doc__,
    default_args={"retries": 0},
) as dag:
    wait = {"deferrable": True, "safety_poll_interval": SAFETY_POLL, "vendor": "toy", "service": "clip"}
    one = VideoGenerationOperator(task_id="one", body={"prompt": "e2e toy: a tin robot"}, **wait)
    batch = BatchVideoGenerationOperator(
        task_id="batch", bodies=[{"prompt": "e2e toy: a paper crane"}, {"prompt": "e2e toy: a wooden train"}], **wait
    )
    VideoDownloadOperator(
        task_id="download", results=[one.output, batch.output], destination="{{ var.value.vidgen_video_root }}/toy/"
    )
