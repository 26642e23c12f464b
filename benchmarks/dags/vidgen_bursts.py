"""The DAGs of benchmarks/callback_bursts.py: per scenario, Hailuo generations on a connection with a
``callback_base_url``, as a mapped ``HailuoVideoOperator`` (one task instance per prompt) beside one
``HailuoBatchVideoOperator``, both polling only every ``VIDGEN_BURSTS_POLL`` s (safety poll too), so that only
the callbacks can finish them early. The scenarios (``VIDGEN_BURSTS``, JSON: name -> mapped and batch
prompts) are set by the script."""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator

SCENARIOS = json.loads(os.environ.get("VIDGEN_BURSTS", "{}"))
POLL = float(os.environ.get("VIDGEN_BURSTS_POLL", "120"))
CONN_ID = "acedata_bursts"
START = pendulum.datetime(2026, 1, 1, tz="UTC")

for name, scenario in SCENARIOS.items():
    waits = {"deferrable": True, "poll_interval": POLL, "safety_poll_interval": POLL, "timeout": 1800}
    with DAG(f"bench_bursts_{name}", schedule=None, start_date=START, catchup=False, max_active_tasks=64):
        HailuoVideoOperator.partial(task_id="generate", acedata_conn_id=CONN_ID, **waits).expand(
            prompt=[f"bursts {name}: a paper boat, take {n}" for n in range(scenario["mapped"])]
        )
        HailuoBatchVideoOperator(
            task_id="generate_batch",
            acedata_conn_id=CONN_ID,
            prompts=[f"bursts {name}: a kite, take {n}" for n in range(scenario["batch"])],
            max_items=max(scenario["batch"], 1),
            **waits,
        )
