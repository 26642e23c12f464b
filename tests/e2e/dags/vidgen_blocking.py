"""The non-deferrable (blocking) paths, for ``make e2e``: they must work in a real worker too.

* ``generate_blocking``: ``deferrable=False`` waits inside the task process (the trigger runs to its
  first event in a private event loop there), never in the triggerer.
* ``submit_only`` + ``wait_blocking``: submit without waiting, then a sensor that pokes with the
  sync hook and frees its worker slot between pokes (``mode="reschedule"``). Its ``poke_interval``
  stays well above the ~1-2 s the scheduler takes to see a poke's worker exit: Airflow 3.3.2 fails
  a reschedule-mode sensor whose next poke is queued before that stale exit event is processed
  (apache/airflow#71172, same try_number, no ``next_method``). With ``poke_interval=1`` it did.

The connection ``acedata_e2e_db`` is created by the e2e through the REST API, so it lives in the
metadata DB and the task process can only get it from its supervisor (the Execution API), the way
a deployment's connections usually arrive (environment-variable connections never go that way).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

CONN_ID = "acedata_e2e_db"

with DAG(
    "vidgen_blocking",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "e2e"],
    doc_md=__doc__,
) as dag:
    HailuoVideoOperator(
        task_id="generate_blocking",
        prompt="e2e: a lighthouse in the fog, waited for on the worker",
        acedata_conn_id=CONN_ID,
        deferrable=False,
        poll_interval=1,
        timeout=120,
    )

    submit_only = HailuoVideoOperator(
        task_id="submit_only",
        prompt="e2e: a hummingbird at a feeder, collected by a sensor",
        acedata_conn_id=CONN_ID,
        wait_for_completion=False,
    )
    VideoTaskSensor(
        task_id="wait_blocking",
        task_ids=submit_only.output,
        service="hailuo",
        conn_id=CONN_ID,
        deferrable=False,
        poke_interval=5,  # not 1: see the module docstring (apache/airflow#71172)
        mode="reschedule",
        timeout=120,
    )
