"""A batch task's budget: ``max_submissions`` and ``max_usage`` stop submitting, say so in the log and the
result, and a retry never goes past them. Real HTTP against the emulator; the task state store is the
retry's memory, as Airflow 3.3 keeps it."""

from __future__ import annotations

from typing import Any

import pytest
from test_reliability import FakeStore, FakeTI, logs, run_dag

from airflow_provider_vidgen.core.budget import BUDGET_REACHED, Budget
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.operators import submitter
from airflow_provider_vidgen.operators.acedata import AceDataBatchVideoOperator, HailuoBatchVideoOperator
from airflow_provider_vidgen.vendors.acedata.services import SEEDANCE_MODELS

PROMPTS = [f"a paper lantern, take {n}" for n in range(5)]


def hailuo_batch(**kwargs: Any) -> HailuoBatchVideoOperator:
    return HailuoBatchVideoOperator(
        task_id="gen", prompts=PROMPTS, wait_for_completion=False, fail_on_failed=False, **kwargs
    )


def test_max_submissions_stops_the_batch_and_a_retry_submits_no_more(emulator, caplog, capfd):
    store = FakeStore()
    results = hailuo_batch(max_submissions=3).execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 3
    assert [result["state"] for result in results] == ["pending"] * 3 + ["failed"] * 2
    for result in results[3:]:
        assert result["error"]["code"] == BUDGET_REACHED and "max_submissions=3 reached" in result["error"]["message"]
    assert "Budget: max_submissions=3 reached (3 item(s) submitted by this task); 2 item(s) not submitted" in logs(
        caplog, capfd
    )

    retried = hailuo_batch(max_submissions=3).execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 3  # the retry reattached to the three, and sent nothing
    assert [r["task_id"] for r in retried[:3]] == [r["task_id"] for r in results[:3]]
    assert [r["error"]["code"] for r in retried[3:]] == [BUDGET_REACHED] * 2


def test_through_airflow_the_batch_policy_decides_the_task_when_the_budget_stops_it(airflow_db, emulator):
    from dags import batch_dags

    _, states, xcoms = run_dag(batch_dags.budget_dag)
    assert states[("gen", -1)] == "failed" and emulator.stats()["tasks_created"] == 2
    failures = xcoms[("gen", -1, "failure")]
    assert [failure["error"]["code"] for failure in failures] == [BUDGET_REACHED] * 3
    assert xcoms[("gen", -1, "summary")]["succeeded"] == 2


def seedance_batch(n: int, limit: float) -> AceDataBatchVideoOperator:
    bodies = [
        {"model": SEEDANCE_MODELS[0], "content": [{"type": "text", "text": f"a dune, take {i}"}]} for i in range(n)
    ]
    return AceDataBatchVideoOperator(
        task_id="gen",
        service="seedance",
        bodies=bodies,
        wait_for_completion=False,
        fail_on_failed=False,
        max_usage={"total_tokens": limit},
    )


def test_a_usage_limit_stops_part_way_and_a_retry_does_not_exceed_it(emulator, monkeypatch, caplog, capfd):
    """Each Seedance video reports 1,080 total_tokens when it finishes. The emulator's clock is moved on after
    each answer, so every item has finished (and reported) before the next one is considered."""
    emulator.hold_clock()
    monkeypatch.setattr(submitter, "after_submission_answer", lambda task_id: emulator.advance(10))
    store = FakeStore()
    results = seedance_batch(5, 2000).execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 2  # 1,080 < 2,000, so a second; 2,160 >= 2,000: no third
    assert [result["error"]["code"] for result in results[2:]] == [BUDGET_REACHED] * 3
    message = results[2]["error"]["message"]
    assert "max_usage total_tokens=2000 reached (2160 reported by the vendor" in message
    assert "the item that crossed the limit is already paid for" in message
    assert "3 item(s) not submitted" in logs(caplog, capfd)

    retried = seedance_batch(5, 2000).execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 2  # the retry read the reported usage and sent nothing
    assert [r["state"] for r in retried[:2]] == ["succeeded", "succeeded"]
    assert [r["usage"]["total_tokens"] for r in retried[:2]] == [1080, 1080]

    raised = seedance_batch(5, 5000).execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 5  # a higher limit on a later try: the rest go (5,400 after)
    assert all(r["state"] != "failed" for r in raised)


def test_a_usage_limit_submits_one_at_a_time(emulator, monkeypatch):
    in_flight: list[int] = []
    original = submitter.submissions_in_flight
    monkeypatch.setattr(submitter, "submissions_in_flight", lambda rate: in_flight.append(1) or original(rate))
    seedance_batch(2, 10**9).execute({"ti": FakeTI(), "task_state_store": FakeStore()})
    assert in_flight == []  # the overlapping pool size was never asked for


@pytest.mark.parametrize(
    ("max_submissions", "max_usage", "field"),
    [
        (0, None, "max_submissions"),
        (True, None, "max_submissions"),
        ("10", None, "max_submissions"),
        (None, {}, "max_usage"),
        (None, {"total_tokens": 0}, "max_usage"),
        (None, {"total_tokens": "lots"}, "max_usage"),
        (None, [("total_tokens", 5)], "max_usage"),
    ],
)
def test_a_bad_budget_is_a_dag_import_error(max_submissions, max_usage, field):
    with pytest.raises(InvalidInputError, match=field):
        Budget.of(max_submissions, max_usage)
    with pytest.raises(InvalidInputError, match=f"{field}: .*checked when the DAG was parsed"):
        hailuo_batch(max_submissions=max_submissions, max_usage=max_usage)


def test_no_budget_is_no_limit():
    assert Budget.of(None, None) is None
    assert Budget(max_submissions=2).reached(1, {}) is None
    assert Budget(max_usage={"credits": 3}).reached(99, {"credits": 2.9}) is None


def test_an_item_submitted_again_after_it_failed_is_the_same_item(emulator):
    emulator.hold_clock()
    store = FakeStore()

    def batch() -> HailuoBatchVideoOperator:
        return HailuoBatchVideoOperator(
            task_id="gen", prompts=["a kite", "a kite [fail]"], wait_for_completion=False, fail_on_failed=False,
            max_submissions=2,
        )  # fmt: skip

    batch().execute({"ti": FakeTI(), "task_state_store": store})
    emulator.advance(10)  # both finish: the second failed
    retried = batch().execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 3  # the failed item went again, within max_submissions=2
    assert all((result.get("error") or {}).get("code") != BUDGET_REACHED for result in retried)
