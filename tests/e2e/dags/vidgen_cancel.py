"""Waiting generations marked failed by a user, for ``make e2e`` (Airflow >= 3.3 calls the trigger's on_kill).

* ``minimax``: MiniMax cancels a queued task: the e2e holds the emulator's clock so the task stays queued,
  marks the waiting task failed through the REST API, and the vendor task is cancelled.
* ``hailuo``: Hailuo has no cancel: the task log says the generation goes on, and nothing is sent.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import AceDataVideoOperator, HailuoVideoOperator

with DAG(
    "vidgen_cancel",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "e2e"],
    doc_md=__doc__,
    default_args={"retries": 0, "deferrable": True, "poll_interval": 1},
) as dag:
    AceDataVideoOperator(
        task_id="minimax",
        service="minimax",
        body={
            "model": "MiniMax-H3",
            "content": [{"type": "text", "text": "e2e cancel: a lighthouse in fog"}],
            "duration": 4,
            "resolution": "768P",
            "ratio": "16:9",
        },
    )
    HailuoVideoOperator(task_id="hailuo", prompt="e2e cancel: a lighthouse in fog")
