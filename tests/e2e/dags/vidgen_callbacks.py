"""Generations finished by the vendor's callbacks, for ``make e2e``.

Its connection (``acedata_callbacks``, created by the e2e through the REST API) has a
``callback_base_url``: the API server's own address. Every task waits in the triggerer with a safety
poll of an hour, so only the callbacks (posted by the emulator to the API server's receiver, confirmed
there with one retrieve) can finish them within the e2e's budget:

* ``single``: one generation;
* ``batch``: three generations in one task, resumed once all three are confirmed;
* ``submit_only`` then ``collect``: the sensor of the run is resumed by the callback of the task it waits on.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

CONN = "acedata_callbacks"
SAFETY_POLL = 3600  # far beyond the e2e's budget: a task that ends did so by its callback

with DAG(
    "vidgen_callbacks",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "e2e"],
    doc_md=__doc__,
    default_args={"retries": 0, "deferrable": True, "acedata_conn_id": CONN, "safety_poll_interval": SAFETY_POLL},
) as dag:
    HailuoVideoOperator(task_id="single", prompt="e2e callback: a lantern on still water")
    HailuoBatchVideoOperator(
        task_id="batch",
        prompts=["e2e callback: a heron lifts off", "e2e callback: rain on a tin roof", "e2e callback: a slow tide"],
    )
    submit_only = HailuoVideoOperator(
        task_id="submit_only", prompt="e2e callback: a kite at dusk", wait_for_completion=False
    )
    VideoTaskSensor(
        task_id="collect",
        task_ids=submit_only.output,
        service="hailuo",
        conn_id=CONN,
        deferrable=True,
        safety_poll_interval=SAFETY_POLL,
        timeout=600,
    )
