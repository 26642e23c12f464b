"""Operators and the sensor under real Airflow (dag.test()) against the emulator over HTTP."""

from __future__ import annotations

import pytest
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from dags import generation_dags


def run(dag):
    dag_run = dag.test()
    with create_session() as session:
        tis = {(ti.task_id, ti.map_index): ti for ti in dag_run.get_task_instances(session=session)}
        xcoms = {
            (x.task_id, x.map_index, x.key): XComModel.deserialize_value(x)
            for x in session.query(XComModel).filter(XComModel.run_id == dag_run.run_id, XComModel.dag_id == dag.dag_id)
        }
    return dag_run, {key: ti.state for key, ti in tis.items()}, xcoms


@pytest.mark.parametrize(
    "dag", [generation_dags.deferrable_dag, generation_dags.blocking_dag], ids=["deferrable", "blocking"]
)
def test_generation_dag(airflow_db, emulator, dag):
    dag_run, states, xcoms = run(dag)
    assert dag_run.state == DagRunState.SUCCESS, states
    for key in [("hailuo", 0), ("hailuo", 1), ("luma", -1), ("kling", -1), ("hidream", -1), ("wait", -1)]:
        assert states[key] == TaskInstanceState.SUCCESS
    for task_id, map_index, service, vendor in [
        ("hailuo", 0, "hailuo", "acedata"), ("hailuo", 1, "hailuo", "acedata"), ("luma", -1, "luma", "acedata"),
        ("kling", -1, "kling", "acedata"), ("hidream", -1, "txt2video", "hidream"),
    ]:  # fmt: skip
        result = xcoms[(task_id, map_index, "return_value")]
        assert result["state"] == "succeeded" and result["service"] == service and result["vendor"] == vendor
        assert result["videos"][0]["url"].startswith(emulator.url)
        assert xcoms[(task_id, map_index, "vendor_task_id")] == result["task_id"]
    (waited,) = xcoms[("wait", -1, "return_value")]
    assert waited["task_id"] == xcoms[("submit_only", -1, "return_value")]["task_id"]
    assert waited["state"] == "succeeded"
    (hidream,) = xcoms[("hidream_wait", -1, "return_value")]
    assert hidream["task_id"] == xcoms[("hidream_submit_only", -1, "return_value")]["task_id"]
    assert hidream["vendor"] == "hidream" and hidream["state"] == "succeeded"
    assert hidream["videos"][0]["watermarked_url"].endswith("_wm.mp4")
    counts = emulator.stats()["counts"]
    assert counts["submit"] == 7  # one per generation, never more


def test_failures_name_the_vendor_task_and_bad_input_sends_nothing(airflow_db, emulator, caplog, capsys):
    dag_run, states, xcoms = run(generation_dags.failure_dag)
    assert dag_run.state == DagRunState.FAILED
    assert states[("fails", -1)] == states[("rejected", -1)] == states[("bad_input", -1)] == TaskInstanceState.FAILED
    failed_id = xcoms[("fails", -1, "vendor_task_id")]
    rejected_id = xcoms[("rejected", -1, "vendor_task_id")]
    assert ("bad_input", -1, "vendor_task_id") not in xcoms
    log = caplog.text + capsys.readouterr().out  # dag.test() sends task logs to stdout
    assert f"Generation failed: acedata hailuo task {failed_id}: failed (api_error" in log
    assert f"HiDream content review rejected task {rejected_id}" in log
    assert "first_image_url: is required for model minimax-i2v" in log
    assert emulator.stats()["counts"]["submit"] == 2  # the bad input never reached the API
