"""The crash window: a worker that dies between the vendor's answer to a submission and the moment the
vendor task id is recorded. The intent is recorded first; the retry finds the task by its request
(``retrieve_batch`` by creation time) and reattaches, so the generation is paid once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow_compat import AIRFLOW_3_3_PLUS
from conftest import REPO, TOKEN
from dags import reliability_dags
from test_reliability import FakeStore, FakeTI, logs, run_dag

from airflow_provider_vidgen.core.ledger import SubmissionLedger
from airflow_provider_vidgen.core.transport import RetryPolicy
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.operators import base as operator_base
from airflow_provider_vidgen.operators import submitter
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator

PROMPT = "a heron over a misty lake"
FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)


def hailuo(**kwargs: Any) -> HailuoVideoOperator:
    return HailuoVideoOperator(task_id="gen", prompt=kwargs.pop("prompt", PROMPT), wait_for_completion=False, **kwargs)


class Killed(BaseException):
    """Stands in for the process dying (not an Exception: nothing in the operator handles it)."""


def intended(store: FakeStore, operator: Any) -> None:
    """The record a try leaves when it dies after sending its submission and before recording the id."""
    submission = operator.prepare(operator.service_name(), operator.request_body())
    ledger = SubmissionLedger(store, [submission.fingerprint(operator.conn_id)])
    ledger.begin()
    ledger.intend(0, submission.service)


def die_after_the_answer(task_id: str) -> None:
    raise Killed(task_id)


def test_a_try_that_died_after_the_answer_is_found_by_its_request_and_reattached(emulator, monkeypatch, caplog, capfd):
    store = FakeStore()
    original = submitter.after_submission_answer
    monkeypatch.setattr(submitter, "after_submission_answer", die_after_the_answer)
    with pytest.raises(Killed) as died:
        hailuo().execute({"ti": FakeTI(), "task_state_store": store})
    lost_id = str(died.value)
    assert store.record().state == "intended"  # only the intent was recorded
    monkeypatch.setattr(submitter, "after_submission_answer", original)

    result = hailuo().execute({"ti": FakeTI(), "task_state_store": store})
    assert result["task_id"] == lost_id and store.record().task_id == lost_id
    assert emulator.stats()["tasks_created"] == 1  # paid once
    assert f"found it on the vendor side by its request: {lost_id}" in logs(caplog, capfd)


def test_a_try_that_died_before_sending_submits_once(emulator, caplog, capfd):
    hook = AceDataHook()
    try:
        other = hook.submit("hailuo", {"prompt": "another prompt entirely"})  # in the window, not a match
    finally:
        hook.close()
    store = FakeStore()
    intended(store, hailuo())
    result = hailuo().execute({"ti": FakeTI(), "task_state_store": store})
    assert result["task_id"] != other and emulator.stats()["tasks_created"] == 2
    assert "no task with this request was created then, so it is submitted now" in logs(caplog, capfd)


def test_two_tasks_with_the_same_request_in_the_window_fail_the_task_without_paying(emulator):
    store = FakeStore()
    hook = AceDataHook()
    try:
        sent = [hook.submit("hailuo", hailuo().request_body()) for _ in range(2)]
    finally:
        hook.close()
    intended(store, hailuo())
    with pytest.raises(AirflowFailException) as caught:
        hailuo().execute({"ti": FakeTI(), "task_state_store": store})
    message = str(caught.value)
    assert "the lookup is not conclusive (2 task(s) with this request" in message
    assert all(task_id in message for task_id in sent) and "VideoTaskSensor" in message
    assert emulator.stats()["tasks_created"] == 2  # nothing more was sent


def test_hidream_cannot_look_a_lost_submission_up_and_says_what_to_do(emulator):
    store = FakeStore()
    operator = HiDreamVideoOperator(task_id="gen", prompt=PROMPT, wait_for_completion=False)
    intended(store, operator)
    with pytest.raises(AirflowFailException, match=r"HiDream cannot list tasks by time\. Look in the HiDream console"):
        operator.execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 0


def test_a_refused_lookup_holds_only_the_items_in_doubt_and_the_rest_are_submitted(emulator):
    """Items 0 and 1 were sent by a try that died before recording them; 2 and 3 provably never were. The
    vendor refuses the lookup: 2 and 3 are submitted, 0 and 1 held, each with its window and prompt; the
    batch policy decides the task. The retry, once the vendor answers, finds 0 and 1 never created."""
    prompts = [f"a lantern, take {n}" for n in range(4)]

    def batch() -> Any:
        return HailuoBatchVideoOperator(
            task_id="gen", prompts=prompts, wait_for_completion=False, fail_on_failed=False, min_success=2
        )

    store = FakeStore()
    submissions = [batch().prepare("hailuo", body) for body in batch().item_bodies()]
    ledger = SubmissionLedger(store, [submission.fingerprint("acedata_default") for submission in submissions])
    ledger.begin()
    ledger.intend(0, "hailuo")
    ledger.intend(1, "hailuo")
    emulator.configure(refuse_search=True)
    results = batch().execute({"ti": FakeTI(), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == 2  # only the items that were provably never sent
    assert [result["state"] for result in results] == ["failed", "failed", "pending", "pending"]
    for result in results[:2]:
        message = result["error"]["message"]
        assert result["error"]["code"] == "ambiguous_submission" and "looking it up failed" in message
        assert f"with the prompt {result['prompt']!r}" in message and " UTC" in message and "clear" in message

    emulator.configure(refuse_search=False)  # the retry: the vendor answers, nothing was created for 0 and 1
    retried = batch().execute({"ti": FakeTI(), "task_state_store": store})
    assert [result["state"] for result in retried] == ["pending"] * 4
    assert emulator.stats()["tasks_created"] == 4  # 0 and 1 once each; 2 and 3 reattached, not sent again
    assert [result["task_id"] for result in retried[2:]] == [result["task_id"] for result in results[2:]]


def test_a_submission_the_api_refused_leaves_no_intent_behind(emulator, monkeypatch):
    store = FakeStore()
    emulator.configure(rate_limit=1)
    hook = AceDataHook()
    try:
        hook.submit("hailuo", {"prompt": "uses up the one request per second"})
    finally:
        hook.close()
    emulator.hold_clock()  # the rate window stays full: every attempt gets a 429
    monkeypatch.setattr(operator_base.BaseVideoOperator, "get_hook", lambda self: AceDataHook(retry=FAST_RETRY))
    with pytest.raises(Exception, match="429"):
        hailuo().execute({"ti": FakeTI(), "task_state_store": store})
    assert store.record() is None  # a retry submits without a lookup


# ------------------------------------------------------------------------------------------------
# A real kill -9 of the worker process at exactly that moment
# ------------------------------------------------------------------------------------------------

WORKER = r"""
import json, sys
from pathlib import Path
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, HailuoVideoOperator
from crash_hold import hold_in_the_crash_window

if len(sys.argv) > 4:  # the test's kill -9 comes in the crash window, once the answer is written there
    hold_in_the_crash_window(Path(sys.argv[4]))

class FileStore:  # task_state_store as Airflow keeps it: outside the worker process
    def __init__(self, path): self.path = Path(path)
    def get(self, key): return json.loads(self.path.read_text()).get(key) if self.path.exists() else None
    def read(self): return json.loads(self.path.read_text()) if self.path.exists() else {}
    def set(self, key, value): self.path.write_text(json.dumps({**self.read(), key: value}))
    def delete(self, key): self.path.write_text(json.dumps({k: v for k, v in self.read().items() if k != key}))

class TI:
    def xcom_push(self, key, value): pass

op = HailuoVideoOperator(task_id="gen", prompt=sys.argv[3], wait_for_completion=False)
print(json.dumps(op.execute({"ti": TI(), "task_state_store": FileStore(sys.argv[2])})))
"""


def test_kill_9_between_the_answer_and_the_record_pays_once(emulator, tmp_path):
    store_file, answered = tmp_path / "task_state_store.json", tmp_path / "answered"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(REPO), str(store_file), PROMPT, str(answered)])
    try:
        deadline = time.monotonic() + 60
        while not answered.exists():  # the vendor answered; the id is not recorded yet
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never got its answer"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
    lost_id = answered.read_text()
    stored = json.loads(store_file.read_text())
    assert [value["state"] for key, value in stored.items() if key.count("/") == 2] == ["intended"]

    retry = subprocess.run(
        [sys.executable, "-c", WORKER, str(REPO), str(store_file), PROMPT], capture_output=True, text=True, timeout=120
    )
    assert retry.returncode == 0, retry.stderr[-2000:]
    assert json.loads(retry.stdout.strip().splitlines()[-1])["task_id"] == lost_id
    assert emulator.stats()["tasks_created"] == 1  # the retry reattached: one paid generation
    assert TOKEN not in retry.stdout + retry.stderr


# ------------------------------------------------------------------------------------------------
# Through Airflow: dag.test() with a retry (task_state_store needs Airflow 3.3)
# ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not AIRFLOW_3_3_PLUS, reason="task_state_store (and so the intent) needs Airflow 3.3+")
def test_through_airflow_the_retry_of_a_dead_try_reattaches(airflow_db, emulator, monkeypatch, caplog, capfd):
    deaths: list[str] = []

    def die_once(task_id: str) -> None:
        if not deaths:
            deaths.append(task_id)
            raise RuntimeError(f"worker died right after the answer for {task_id}")

    monkeypatch.setattr(submitter, "after_submission_answer", die_once)
    dag_run, _, xcoms = run_dag(reliability_dags.crash_window_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == "success", text[-3000:]
    assert xcoms[("gen", -1, "return_value")]["task_id"] == deaths[0]
    assert f"found it on the vendor side by its request: {deaths[0]}" in text
    assert emulator.stats()["tasks_created"] == 1


# ------------------------------------------------------------------------------------------------
# The emulator's retrieve_batch filters
# ------------------------------------------------------------------------------------------------


def test_the_emulator_lists_a_tokens_tasks_by_creation_time(emulator, monkeypatch):
    # Both tasks in the same millisecond: the case that once flaked. Newest is still the one sent last.
    from airflow_provider_vidgen.emulator import tasks as emulator_tasks

    frozen = time.time()
    monkeypatch.setattr(emulator_tasks.time, "time", lambda: frozen)
    with httpx.Client(base_url=emulator.url, headers={"authorization": f"Bearer {TOKEN}"}, trust_env=False) as http:
        first = http.post("/hailuo/videos", json={"prompt": "one", "async": True}).json()["task_id"]
        second = http.post("/hailuo/videos", json={"prompt": "two", "async": True}).json()["task_id"]
        now = int(frozen)
        found = http.post(
            "/hailuo/tasks",
            json={"action": "retrieve_batch", "created_at_min": now - 60, "created_at_max": now + 60, "limit": 1},
        ).json()
        none = http.post("/hailuo/tasks", json={"action": "retrieve_batch", "created_at_min": now + 3600}).json()
        refused = http.post("/hailuo/tasks", json={"action": "retrieve_batch"})
    assert found["count"] == 2 and [item["id"] for item in found["items"]] == [second]  # newest first, paged
    assert found["items"][0]["request"] == {"prompt": "two", "async": True}
    assert none == {"items": [], "count": 0} and refused.status_code == 400
    assert first != second
