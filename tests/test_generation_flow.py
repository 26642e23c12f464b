"""The one generation flow (``operators.base``): a single operator is a batch of one that unwraps its one
result, the submitter's options are a checked type, and a killed task says what keeps running from the one
record of what it submitted."""

from __future__ import annotations

from typing import Any

import pytest
from test_reliability import FakeStore, FakeTI, logs

from airflow_provider_vidgen.core.budget import Budget
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator
from airflow_provider_vidgen.operators.base import Submitted
from airflow_provider_vidgen.operators.submitter import SubmitOptions

PROMPT = "a paper boat on a rain gutter"


def test_a_single_operator_returns_the_result_a_batch_of_one_returns_without_its_index(emulator):
    single_ti, batch_ti = FakeTI(), FakeTI()
    single = HailuoVideoOperator(task_id="one", prompt=PROMPT, wait_for_completion=False).execute({"ti": single_ti})
    batch = HailuoBatchVideoOperator(task_id="many", prompts=[PROMPT], wait_for_completion=False)
    (item,) = batch.execute({"ti": batch_ti})
    assert item.pop("index") == 0 and "index" not in single
    assert item.pop("task_id") != single.pop("task_id")  # two submissions, two vendor tasks
    assert item == single and single["state"] == "pending" and single["prompt"] == PROMPT
    assert isinstance(single_ti.xcom["vendor_task_id"], str)  # the id itself; a batch's: the list of ids
    assert isinstance(batch_ti.xcom["vendor_task_id"], list) and len(batch_ti.xcom["vendor_task_id"]) == 1
    assert "summary" not in single_ti.xcom and batch_ti.xcom["summary"]["items"] == 1
    assert emulator.stats()["tasks_created"] == 2


def test_a_single_operator_that_reattaches_without_waiting_reports_the_known_state(emulator):
    """As a batch item does: the earlier try's task is running, so the result says so (it used to say pending)."""
    emulator.hold_clock()
    store = FakeStore()

    def single() -> HailuoVideoOperator:
        return HailuoVideoOperator(task_id="one", prompt=PROMPT, wait_for_completion=False)

    first = single().execute({"ti": FakeTI(), "task_state_store": store})
    emulator.advance(0.25)  # past the emulator's 0.2 s queue, within its 0.3 s run
    again = single().execute({"ti": FakeTI(), "task_state_store": store})
    assert first["state"] == "pending" and again["state"] == "running"
    assert again["task_id"] == first["task_id"] and emulator.stats()["tasks_created"] == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"submit_timeout": 0}, "submit_timeout"),
        ({"submit_timeout": "60"}, "submit_timeout"),
        ({"submit_timeout": True}, "submit_timeout"),
        ({"ride_out_throttles": "yes"}, "ride_out_throttles"),
        ({"budget": {"max_submissions": 3}}, "budget"),
    ],
)
def test_submit_options_refuse_a_wrong_value_naming_the_field(options: dict[str, Any], field: str):
    with pytest.raises(InvalidInputError) as caught:
        SubmitOptions(**options)
    assert caught.value.field == field
    assert SubmitOptions(ride_out_throttles=True, submit_timeout=1.5, budget=Budget(max_submissions=3)).budget


def test_a_batch_with_a_bad_submit_timeout_is_a_dag_import_error(emulator):
    with pytest.raises(InvalidInputError, match=r"submit_timeout: must be a positive number of seconds, got -5"):
        HailuoBatchVideoOperator(task_id="many", prompts=[PROMPT], submit_timeout=-5)
    assert emulator.stats()["counts"]["submit"] == 0


def test_a_killed_single_operator_names_the_task_that_keeps_running(emulator, caplog, capfd):
    operator = HailuoVideoOperator(task_id="one", prompt=PROMPT, wait_for_completion=False)
    operator.on_kill()
    assert "Killed before any Ace Data Cloud submission: nothing keeps running" in logs(caplog, capfd)
    task_id = operator.execute({"ti": FakeTI()})["task_id"]
    assert operator.submitted == Submitted("hailuo", (task_id,), frozenset())
    operator.on_kill()
    text = logs(caplog, capfd)
    assert f"Ace Data Cloud hailuo task {task_id} keeps running on the vendor side" in text
    assert f"VideoTaskSensor(task_ids=[{task_id!r}], service='hailuo')" in text


def test_what_a_killed_batch_leaves_running_skips_the_items_that_have_no_task():
    submitted = Submitted("hailuo", ("t1", "", "t2", "t3", "t4", "t5", "t6", "t7"), frozenset({0}))
    text = submitted.left_running("Ace Data")
    assert text.startswith("Killed; 7 Ace Data hailuo task(s) keep running on the vendor side")
    assert "t1, t2, t3, t4, t5 and 2 more" in text and "Retry this task to reattach" in text
    assert not submitted.all_called_back and Submitted("hailuo", ("t1", ""), frozenset({0})).all_called_back
