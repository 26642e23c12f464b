"""A newcomer's mistakes under a real scheduler, for ``make e2e``: fixed, then cleared, each task works.

* ``no_token``: its connection (``hidream_first_hour``) has no token. The task fails before anything
  is recorded or sent; the e2e then sets the token and clears the task, as the message says.
* ``ambiguous``: the emulator drops the connection after creating the task, so the submission's
  outcome is unknown. HiDream cannot list tasks, so the message says to look in the console and, if
  there is none, clear the task; the e2e clears it, and the cleared task submits again.

Both connections are created by the e2e through the REST API (in the metadata DB).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator

with DAG(
    "vidgen_first_hour",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "e2e"],
    doc_md=__doc__,
    default_args={"retries": 0, "deferrable": True, "poll_interval": 1, "timeout": 120},
) as dag:
    HiDreamVideoOperator(
        task_id="no_token", prompt="e2e: a kite over dunes, once the token is set", hidream_conn_id="hidream_first_hour"
    )
    HiDreamVideoOperator(
        task_id="ambiguous", prompt="e2e: a kite over dunes, sent twice on purpose", hidream_conn_id="hidream_e2e_db"
    )
