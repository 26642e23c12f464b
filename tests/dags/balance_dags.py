"""DAGs of the balance tests (tests/test_balance.py), run with dag.test() against the emulator over HTTP.

No test double: the emulator's balance (``balance_submissions``) runs out, the operators are the real
ones, and running a DAG again on the same logical date is Airflow's own clear of the task.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.1
NO_DELAY = pendulum.duration(seconds=0)
PROMPTS = [f"a paper lantern, take {n}" for n in range(20)]
CONN = "acedata_balance"  # a paced connection (set by the test): slots far apart beside the emulator's answers

# 20 items on a balance that pays for 8: the batch stops at the first used_up; a clear after the top-up
# reattaches to the 8 and submits the 12 others. retries=1: a used-up balance must not be retried.
with DAG("balance_batch", schedule=None, start_date=START, catchup=False) as batch_dag:
    HailuoBatchVideoOperator(
        task_id="gen",
        prompts=PROMPTS,
        acedata_conn_id=CONN,
        deferrable=True,
        poll_interval=POLL,
        retries=1,
        retry_delay=NO_DELAY,
    )

with DAG("balance_single", schedule=None, start_date=START, catchup=False) as single_dag:
    HailuoVideoOperator(
        task_id="gen",
        prompt="a paper lantern on a river",
        acedata_conn_id=CONN,
        deferrable=True,
        poll_interval=POLL,
        retries=1,
        retry_delay=NO_DELAY,
    )
