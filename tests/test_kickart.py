"""Kickart end to end: the generic Ace Data operator under real Airflow (dag.test()) against the emulator.

Three services on one tasks endpoint (POST /kickart/tasks), answers whose ``data`` is one object with no
state word and a plain-number ``usage`` (Docs openapi/kickart.json), deferrable and blocking.
"""

from __future__ import annotations

from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from dags import kickart_dags


def run(dag):
    dag_run = dag.test()
    with create_session() as session:
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session)}
        xcoms = {
            (x.task_id, x.key): XComModel.deserialize_value(x)
            for x in session.query(XComModel).filter(XComModel.run_id == dag_run.run_id, XComModel.dag_id == dag.dag_id)
        }
    return dag_run, states, xcoms


def test_kickart_dag_runs_every_kickart_service_against_the_emulator(airflow_db, emulator):
    dag_run, states, xcoms = run(kickart_dags.kickart_dag)
    assert dag_run.state == DagRunState.FAILED  # the [fail] task only
    assert states["moderated"] == TaskInstanceState.FAILED
    for task_id, service, usage in (
        ("product", "kickart", 0.21),
        ("viral", "kickart-viral", 1.75),
        ("template", "kickart-template", 0.36),
    ):
        assert states[task_id] == TaskInstanceState.SUCCESS, (task_id, states)
        result = xcoms[(task_id, "return_value")]
        assert (result["state"], result["service"], result["vendor"]) == ("succeeded", service, "acedata")
        assert result["videos"][0]["url"] == f"{emulator.url}/files/{result['task_id']}.mp4"
        assert result["usage"] == {"usage": usage}
        assert xcoms[(task_id, "vendor_task_id")] == result["task_id"]
    stats = emulator.stats()
    assert stats["counts"]["submit"] == 4  # one per generation, never more
    # Every poll went to the one tasks endpoint the three paths share.
    for task_id in ("product", "viral", "template"):
        record = emulator_record(emulator, xcoms[(task_id, "vendor_task_id")])
        assert record["request"]["async"] is True and "state" not in record["response"]["data"]


def emulator_record(emulator, task_id):
    import httpx

    answer = httpx.post(
        f"{emulator.url}/kickart/tasks",
        json={"action": "retrieve", "id": task_id},
        headers={"authorization": f"Bearer {emulator.token}"},
        trust_env=False,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()
