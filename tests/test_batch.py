"""Batch operators (issue 10): one task for many generations, paced, reattaching, nothing dropped.

Real Airflow (``dag.test()``) against the emulator over HTTP; the crash is a try that stops after
some accepted submissions (tests/dags/batch_dags.py), the retry is Airflow's own.
"""

from __future__ import annotations

import logging
import re

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState
from conftest import TOKEN, set_connection
from dags import batch_dags
from test_reliability import logs, needs_task_state_store, run_dag, total_requests

from airflow_provider_vidgen.core.batch import (
    chunks,
    progress_line,
    required_successes,
    submissions_in_flight,
)
from airflow_provider_vidgen.core.batch import count as batch_count
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger, next_event

HEALTHY = dict(rate_limit=0, fail_429_rate=0, retry_after=None, seed=0)


@pytest.fixture
def emu(emulator):
    emulator.configure(queued_seconds=0.1, running_seconds=0.2)
    yield emulator
    emulator.configure(**HEALTHY)


def ordered(results: list[dict]) -> list[tuple[int, str]]:
    return [(r["index"], r["state"]) for r in results]


# ------------------------------------------------------------------------------------------------
# The pure parts: pacing, counts, policy
# ------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_submissions_in_flight_cover_two_seconds_of_the_rate_within_bounds():
    assert [submissions_in_flight(rate) for rate in (0.2, 1, 2.5, 10, 50)] == [1, 2, 5, 16, 16]


def test_counts_progress_line_and_policy():
    results = [TaskResult(str(n), "hailuo", "acedata", state) for n, state in enumerate(["succeeded"] * 3 + ["failed"])]
    counts = batch_count([*results, None], 5)
    assert progress_line(counts, "6m12s") == "3/5 succeeded, 1 failed, 1 running (6m12s)"
    assert required_successes(10, min_success=None, fail_on_failed=True) == 10
    assert required_successes(10, min_success=None, fail_on_failed=False) == 0
    assert required_successes(10, min_success=0.9, fail_on_failed=True) == 9
    assert required_successes(10, min_success=1.0, fail_on_failed=False) == 10
    assert required_successes(10, min_success=3, fail_on_failed=True) == 3
    assert chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]


def test_bad_items_fail_at_parse_time_naming_index_and_field():
    with pytest.raises(InvalidInputError, match=r"item\[2\]\.prompt: must not be empty.*task 'b'"):
        HailuoBatchVideoOperator(task_id="b", prompts=["a", "b", " "])
    with pytest.raises(InvalidInputError, match=r"prompts: 11 items exceed max_items=10"):
        HailuoBatchVideoOperator(task_id="b", prompts=["a"] * 11, max_items=10)
    with pytest.raises(InvalidInputError, match=r"first_image_urls: has 1 items but prompts has 2"):
        HailuoBatchVideoOperator(task_id="b", prompts=["a", "b"], model="minimax-i2v", first_image_urls=["https://x/1"])
    with pytest.raises(InvalidInputError, match=r"min_success"):
        HailuoBatchVideoOperator(task_id="b", prompts=["a"], min_success=1.5)


# ------------------------------------------------------------------------------------------------
# The trigger: one progress line for a batch
# ------------------------------------------------------------------------------------------------


async def test_trigger_logs_one_progress_line_per_batch_and_every_failure(emu, caplog):
    hook = AceDataHook()
    ids = [hook.submit("hailuo", {"prompt": p}) for p in ["a", "b [fail]", "c"]]
    trigger = VideoTaskTrigger("acedata_default", "hailuo", ids, poll_interval=0.05)
    with caplog.at_level(logging.INFO):
        event = await next_event(trigger)
    assert event["status"] == "success"
    lines = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_vidgen.triggers.video"]
    assert lines[-1] == "acedata_default hailuo: 2/3 succeeded, 1 failed, 0 running (0s)"
    assert not [line for line in lines if "succeeded" in line and "->" in line]  # no line per succeeded id
    (failure,) = [r for r in caplog.records if r.levelno == logging.WARNING and ids[1] in r.getMessage()]
    assert "failed" in failure.getMessage()


# ------------------------------------------------------------------------------------------------
# Under real Airflow
# ------------------------------------------------------------------------------------------------


def test_paced_submission_under_429s_submits_each_prompt_once(airflow_db, emu, monkeypatch, caplog, capfd):
    set_connection(monkeypatch, "acedata_paced", "acedata", emu.url, TOKEN, max_requests_per_second=50)
    emu.configure(rate_limit=4, fail_429_rate=0.2, retry_after=0, seed=3)  # refused far more often than paced
    dag_run, _, xcoms = run_dag(batch_dags.paced_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.SUCCESS, text[-3000:]
    results = xcoms[("gen", -1, "return_value")]
    assert [r["prompt"] for r in results] == batch_dags.PROMPTS  # input order
    assert ordered(results) == [(n, "succeeded") for n in range(len(batch_dags.PROMPTS))]
    stats = emu.stats()
    assert stats["tasks"] == len(batch_dags.PROMPTS)  # exactly one paid generation per prompt
    assert stats["counts"]["rate_limited"] + stats["counts"]["fault"] > 0  # 429s happened and were retried
    assert "at most 50 submission(s)/s and 5 request(s) open at once" in text
    assert xcoms[("gen", -1, "vendor_task_id")] == [r["task_id"] for r in results]


def test_submissions_overlap_so_latency_does_not_cap_the_rate(airflow_db, emu, monkeypatch, caplog, capfd):
    set_connection(monkeypatch, "acedata_paced", "acedata", emu.url, TOKEN, max_requests_per_second=50)
    emu.configure(latency=0.5)  # a slow API: one at a time would allow 2 submissions/s
    try:
        dag_run, _, xcoms = run_dag(batch_dags.paced_dag)
    finally:
        emu.configure(latency=0)
    assert dag_run.state == DagRunState.SUCCESS, logs(caplog, capfd)[-3000:]
    stats = emu.stats()
    assert stats["tasks"] == stats["counts"]["submit"] == len(batch_dags.PROMPTS)  # still one each
    assert 2 <= stats["peak_concurrent"]["submit"] <= submissions_in_flight(50)
    results = xcoms[("gen", -1, "return_value")]
    assert [r["prompt"] for r in results] == batch_dags.PROMPTS  # input order, whatever the answer order


@needs_task_state_store
def test_crash_mid_batch_reattaches_and_submits_each_item_once(airflow_db, emu, caplog, capfd):
    dag_run, _, xcoms = run_dag(batch_dags.crash_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.SUCCESS, text[-3000:]
    assert "simulated crash mid-batch" in text
    assert f"Reattaching to {batch_dags.CRASH_AFTER} earlier submission(s)" in text
    assert f"Submitting {len(batch_dags.PROMPTS) - batch_dags.CRASH_AFTER} of {len(batch_dags.PROMPTS)}" in text
    results = xcoms[("gen", -1, "return_value")]
    assert ordered(results) == [(n, "succeeded") for n in range(len(batch_dags.PROMPTS))]
    stats = emu.stats()
    assert stats["tasks"] == stats["counts"]["submit"] == len(batch_dags.PROMPTS)  # one submission per item
    assert len({r["task_id"] for r in results}) == len(batch_dags.PROMPTS)


@needs_task_state_store
def test_ids_lost_in_the_crash_window_are_found_again_or_reported_never_paid_twice(airflow_db, emu, caplog, capfd):
    _, states, xcoms = run_dag(batch_dags.lost_answers_dag)
    text = logs(caplog, capfd)
    assert states[("acedata", -1)] == TaskInstanceState.SUCCESS, text[-3000:]
    assert states[("hidream", -1)] == TaskInstanceState.SUCCESS, text[-3000:]  # min_success allows the two
    # The first LOST item was created before its try died; the second may have been cancelled before
    # it was sent (then its intent is dropped, and the retry submits it like any missing item).
    pattern = (
        r"(\d+) item\(s\) were sent by an earlier try .*?: (\d+) found on the vendor side by their request, "
        r"(\d+) provably not created \(submitted now\), (\d+) not conclusive"
    )
    story = sorted(re.findall(pattern, text), key=lambda numbers: numbers[1], reverse=True)
    assert len(story) == 2, story
    lost, found, resent, unclear = map(int, story[0])  # Ace Data: found by the request that was sent
    assert 1 <= found == lost <= len(batch_dags.LOST) and resent == unclear == 0, story
    lost, found, resent, unclear = map(int, story[1])  # HiDream cannot list tasks: reported, not resent
    assert found == resent == 0 and 1 <= unclear == lost <= len(batch_dags.LOST), story
    acedata = xcoms[("acedata", -1, "return_value")]
    assert ordered(acedata) == [(n, "succeeded") for n in range(len(batch_dags.PROMPTS))]
    hidream = xcoms[("hidream", -1, "return_value")]
    failed = [r for r in hidream if r["state"] == "failed"]
    assert len(failed) == unclear and {r["prompt"] for r in failed} <= set(batch_dags.LOST)
    assert all(r["error"]["code"] == "ambiguous_submission" for r in failed)
    assert all("cannot list tasks by time" in r["error"]["message"] for r in failed)
    by_vendor = emu.stats()["by_vendor"]
    assert by_vendor["acedata"]["submit"] == len(batch_dags.PROMPTS)  # each prompt exactly once, over both tries
    assert by_vendor["hidream"]["submit"] <= len(batch_dags.PROMPTS)  # never twice (an unsent one is not resent)


@needs_task_state_store
def test_partial_failure_retry_resubmits_only_the_failed_items(airflow_db, emu, caplog, capfd):
    dag_run, _, xcoms = run_dag(batch_dags.partial_retry_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED, text[-3000:]  # the [fail] items fail on every try
    assert "2 of 5 generation(s) failed and 5 must succeed" in text
    assert "Reattaching to 3 earlier submission(s) instead of submitting again (3 succeeded, 0 running)" in text
    assert "2 failed earlier and are submitted again" in text
    stats = emu.stats()
    assert stats["tasks"] == stats["counts"]["submit"] == 5 + 2  # try 2 paid only for the 2 failed items
    failures = xcoms[("gen", -1, "failure")]
    assert [(f["index"], f["state"], f["error"]["code"]) for f in failures] == [
        (1, "failed", "api_error"),
        (3, "failed", "api_error"),
    ]
    assert all(f["task_id"] and f["prompt"] == batch_dags.MIXED[f["index"]] for f in failures)


def test_failures_within_the_policy_stay_in_the_results_with_usage_and_chunks(airflow_db, emu, caplog, capfd):
    dag_run, _, xcoms = run_dag(batch_dags.policy_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.SUCCESS, text[-3000:]
    results = xcoms[("gen", -1, "return_value")]
    assert [r["prompt"] for r in results] == batch_dags.MIXED
    assert ordered(results) == [(0, "succeeded"), (1, "failed"), (2, "succeeded"), (3, "failed"), (4, "succeeded")]
    assert all(r["task_id"] for r in results) and results[1]["error"]["code"] == "api_error"
    assert xcoms[("gen", -1, "summary")] == {"items": 5, "succeeded": 3, "failed": 2, "usage": {}}
    assert "Batch: 3/5 succeeded, 2 failed, 0 running (done); usage: not reported by the API" in text
    # Seedance reports usage per task: each result has it, the summary totals it.
    seedance = xcoms[("seedance", -1, "return_value")]
    assert [r["usage"] for r in seedance] == [{"completion_tokens": 1080, "total_tokens": 1080}] * 3
    assert xcoms[("seedance", -1, "summary")]["usage"] == {"completion_tokens": 3240, "total_tokens": 3240}
    assert "usage: completion_tokens=3240, total_tokens=3240" in text
    # .expand() over chunks: one batch task per chunk, each in its own order.
    chunked = [xcoms[("chunks", index, "return_value")] for index in range(3)]
    assert [[r["prompt"] for r in chunk] for chunk in chunked] == [
        ["a clownfish 0", "a clownfish 1"],
        ["a clownfish 2", "a clownfish 3"],
        ["a clownfish 4"],
    ]
    assert all(r["state"] == "succeeded" for chunk in chunked for r in chunk)
    assert emu.stats()["tasks"] == 5 + 3 + 5


def test_bad_items_fail_naming_index_and_field_with_zero_requests(airflow_db, emu, caplog, capfd):
    dag_run, states, xcoms = run_dag(batch_dags.bad_items_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED
    assert states.pop(("too_many_prompts", -1)) == TaskInstanceState.SUCCESS  # hands over the mapped prompts
    assert set(states.values()) == {TaskInstanceState.FAILED}, states
    for expected in [
        "invalid input: item[1].prompt: must not be empty; nothing was submitted for any item",
        "invalid input: item[0].first_image_url: is required for model minimax-i2v",
        "invalid input: prompts: 4 items exceed max_items=3",
        "invalid input: first_image_urls: has 1 items but prompts has 2",
    ]:
        assert expected in text
    assert not [key for key in xcoms if key[2] == "vendor_task_id"]
    assert total_requests(emu) == 0
