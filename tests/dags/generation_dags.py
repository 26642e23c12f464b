"""DAGs the operator tests run with dag.test(); they live inside the dags folder, as dag.test() needs."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import AceDataVideoOperator, HailuoVideoOperator, LumaVideoOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.2


def generation_dag(dag_id: str, deferrable: bool) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        HailuoVideoOperator.partial(task_id="hailuo", deferrable=deferrable, poll_interval=POLL).expand(
            prompt=["a red fox in snow", "a paper boat on a lake"]
        )
        LumaVideoOperator(task_id="luma", prompt="astronaut in a volcano", deferrable=deferrable, poll_interval=POLL)
        AceDataVideoOperator(
            task_id="kling",
            service="kling",
            body={"action": "text2video", "model": "kling-v2-6", "prompt": "a mug on marble"},
            deferrable=deferrable,
            poll_interval=POLL,
        )
        HiDreamVideoOperator(task_id="hidream", prompt="a clownfish", deferrable=deferrable, poll_interval=POLL)
        submit_only = HailuoVideoOperator(task_id="submit_only", prompt="a lighthouse", wait_for_completion=False)
        VideoTaskSensor(
            task_id="wait",
            task_ids=submit_only.output,
            service="hailuo",
            deferrable=deferrable,
            poke_interval=POLL,
            timeout=60,
        )
        hidream_submit = HiDreamVideoOperator(
            task_id="hidream_submit_only", service="img2video", image="https://cdn.example.com/a.png",
            wait_for_completion=False,
        )  # fmt: skip
        VideoTaskSensor(
            task_id="hidream_wait",
            task_ids=hidream_submit.output,
            service="img2video",
            conn_id="hidream_default",  # the vendor follows from the connection's type
            deferrable=deferrable,
            poke_interval=POLL,
            timeout=60,
        )
    return dag


deferrable_dag = generation_dag("gen_deferrable", True)
blocking_dag = generation_dag("gen_blocking", False)

with DAG("gen_failure", schedule=None, start_date=START, catchup=False) as failure_dag:
    HailuoVideoOperator(task_id="fails", prompt="doomed [fail]", deferrable=True, poll_interval=POLL)
    HiDreamVideoOperator(task_id="rejected", prompt="bad [reject]", deferrable=True, poll_interval=POLL)
    # Templated, so only the run can tell (a literal bad model is a DAG import error, see test_validation.py).
    HailuoVideoOperator(
        task_id="bad_input", prompt="x", model="{{ 'minimax-i2v' }}", deferrable=True, poll_interval=POLL
    )

with DAG("gen_retry", schedule=None, start_date=START, catchup=False) as retry_dag:
    # The first try's poll budget is exhausted by injected faults; the retry must reattach.
    HailuoVideoOperator(
        task_id="retried",
        prompt=os.environ.get("VIDGEN_TEST_PROMPT", "a kite"),
        deferrable=True,
        poll_interval=POLL,
        max_poll_failures=1,
        retries=1,
        retry_delay=pendulum.duration(seconds=0),
    )


with DAG("gen_mapped_sensor", schedule=None, start_date=START, catchup=False) as mapped_sensor_dag:
    # A sensor over a mapped task's output: Airflow hands it a lazy sequence of XComs.
    mapped_submit = HailuoVideoOperator.partial(task_id="submit", wait_for_completion=False).expand(
        prompt=["a heron at dawn", "a kite over dunes", "rain on a tin roof"]
    )
    VideoTaskSensor(task_id="wait", task_ids=mapped_submit.output, service="hailuo", poke_interval=POLL, timeout=60)


with DAG(
    "gen_surface", schedule=None, start_date=START, catchup=False, params={"conn": "acedata_nightly"}
) as surface_dag:
    # HiDream's own word for the service, kept as an alias; a connection id chosen by a template.
    HiDreamVideoOperator(task_id="by_module", module="txt2video", prompt="a clownfish", poll_interval=POLL)
    HailuoVideoOperator(task_id="templated_conn", prompt="p", acedata_conn_id="{{ params.conn }}", poll_interval=POLL)

with DAG("gen_hidream_v3", schedule=None, start_date=START, catchup=False) as hidream_v3_dag:
    # HiDream's v3 API: no batch-results endpoint, so the trigger polls each id with its own GET.
    HiDreamVideoOperator(
        task_id="v3_txt2video",
        service="v3-txt2video",
        prompt="a clownfish",
        negative_prompt="blur",
        resolution="1280*720",
        deferrable=True,
        poll_interval=POLL,
    )
    HiDreamVideoOperator(
        task_id="v3_keyframe2video",
        service="v3-keyframe2video",
        images=["https://cdn.example.com/dawn.png", "https://cdn.example.com/dusk.png"],
        duration=10,
        poll_interval=POLL,
    )
