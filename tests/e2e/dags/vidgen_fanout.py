"""``make e2e-prod``: many deferred generations in one run (a mapped Hailuo operator).

Params: ``count`` generations, labelled with ``label`` (the prompts are unique per run, so the
emulator's tasks can be told apart), polled every ``poll_interval`` s with ``max_poll_failures``
(the operator's defaults unless given), and waited for ``deferrable`` (in the triggerer) or not (on
the worker), on connection ``conn_id`` (with callbacks when it has a ``callback_base_url``, then
polled only every ``safety_poll_interval`` s). Every task retries (``retries=2``, 2 s apart) so a
killed worker or triggerer is recovered by Airflow, and a retry reattaches to the vendor task recorded
in ``task_state_store``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator

with DAG(
    "vidgen_fanout",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=1000,
    tags=["vidgen", "e2e"],
    params={
        "count": Param(50, type="integer", minimum=1),
        "label": Param("fanout", type="string"),
        "poll_interval": Param(15.0, type="number"),
        "max_poll_failures": Param(5, type="integer"),
        "deferrable": Param(True, type="boolean"),
        "conn_id": Param("acedata_default", type="string"),
        "safety_poll_interval": Param(300.0, type="number"),
    },
    doc_md=__doc__,
) as dag:

    @task
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert params is not None
        return [
            {
                "prompt": f"{params['label']} #{number}: a paper boat on a moonlit lake",
                "poll_interval": float(params["poll_interval"]),
                "max_poll_failures": int(params["max_poll_failures"]),
                "deferrable": bool(params["deferrable"]),
                "acedata_conn_id": params["conn_id"],
                "safety_poll_interval": float(params["safety_poll_interval"]),
            }
            for number in range(int(params["count"]))
        ]

    HailuoVideoOperator.partial(
        task_id="generate",
        timeout=1800,
        retries=2,
        retry_delay=pendulum.duration(seconds=2),
    ).expand_kwargs(plan())
