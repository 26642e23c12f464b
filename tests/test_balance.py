"""An exhausted balance (Ace Data Cloud: HTTP 403 ``used_up``, not billed) stops the spending at once.

Real Airflow (``dag.test()``) against the emulator's balance (``balance_submissions``) over HTTP: a batch
stops at the first used_up and says what to do; after a top-up, Airflow's own clear of the task reattaches
to every accepted item and submits exactly the never-sent ones. Every process on the token hears of it
through the token's shared pace store (hooks.pace).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from typing import Any
from unittest import mock

import pendulum
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.utils.state import DagRunState
from conftest import REPO, TOKEN, set_connection
from dags import balance_dags
from test_first_hour import TI
from test_pace import redis_url  # noqa: F401  (fixture)
from test_reliability import FakeStore, logs, needs_task_state_store, read_run, run_dag

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.pace import USED_UP, FileSlots, ProcessSlots, RedisSlots
from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator

RATE = 5  # submissions/s on the balance tests' connection: 0.2 s between slots, the emulator answers in ms
TOP_UP = "top it up in the Ace Data Cloud console, then clear this task"


@pytest.fixture
def emu(emulator, monkeypatch):
    set_connection(monkeypatch, balance_dags.CONN, "acedata", emulator.url, TOKEN, max_requests_per_second=RATE)
    emulator.configure(queued_seconds=0.1, running_seconds=0.2)
    yield emulator
    emulator.configure(balance_submissions=None)


def tasks_per_prompt(emulator: Any) -> collections.Counter[str]:
    """The generations the emulator created (each one paid), by prompt."""
    return emulator._on_loop(lambda: collections.Counter(t.request["prompt"] for t in emulator.state.tasks.values()))


def cleared_and_run_again(dag: Any, logical_date: Any) -> Any:
    """Airflow's own clear of the run's tasks (dag.test clears the logical date's task instances, which raises
    their max_tries), then its task runner on the same run: dag.test would otherwise delete the run, and with
    it the task_state_store a clear keeps."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    def same_run(*, dag: Any, logical_date: Any, session: Any, **_: Any) -> DagRun:
        run = session.query(DagRun).filter(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date).one()
        run.state = DagRunState.RUNNING  # what a clear does to a finished run
        run.dag = dag
        session.commit()
        return run

    with mock.patch("airflow.models.dagrun.get_or_create_dagrun", same_run):
        dag.test(logical_date=logical_date)
    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date).one()
        session.expunge(run)
    return run


# ------------------------------------------------------------------------------------------------
# A batch stops at the first used_up; a clear after the top-up finishes it, paying each item once
# ------------------------------------------------------------------------------------------------


@needs_task_state_store
def test_a_batch_stops_at_the_first_used_up_and_a_clear_after_the_top_up_pays_each_item_once(
    airflow_db, emu, caplog, capfd
):
    emu.configure(balance_submissions=8)
    when = pendulum.datetime(2026, 3, 1, tz="UTC")
    dag_run, _, xcoms = run_dag(balance_dags.batch_dag, logical_date=when)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED, text[-3000:]
    stats = emu.stats()
    refused = stats["counts"]["used_up"]
    assert 1 <= refused <= 5, stats  # the first, plus what was already on the wire
    assert stats["tasks_created"] == 8 and stats["counts"]["submit"] == 8 + refused
    assert "HTTP 403 used_up: Your balance is not sufficient" in text
    assert f"[connection 'acedata_balance', POST {emu.url}/hailuo/videos]" in text
    assert (
        f"8 of 20 item(s) accepted (recorded: a retry or a clear reattaches to them, nothing is paid twice), "
        f"{refused} refused with this error and {12 - refused} never sent" in text
    )
    assert "Next step: the balance of the token of connection 'acedata_balance' (Admin -> Connections)" in text
    assert TOP_UP in text and "check the API token" not in text
    assert TOKEN not in text

    emu.configure(balance_submissions=12)  # exactly what is missing: a second payment for any item is refused
    cleared = cleared_and_run_again(balance_dags.batch_dag, when)
    text = logs(caplog, capfd)
    assert cleared.state == DagRunState.SUCCESS, text[-3000:]
    assert "Reattaching to 8 earlier submission(s) instead of submitting again" in text
    _, xcoms = read_run(cleared)
    results = xcoms[("gen", -1, "return_value")]
    assert [r["state"] for r in results] == ["succeeded"] * 20
    assert [r["prompt"] for r in results] == balance_dags.PROMPTS
    assert tasks_per_prompt(emu) == dict.fromkeys(balance_dags.PROMPTS, 1)  # each prompt paid once over both tries
    assert emu.stats()["counts"]["used_up"] == refused  # the cleared try met no refusal


# ------------------------------------------------------------------------------------------------
# A single operator
# ------------------------------------------------------------------------------------------------


def test_a_single_operator_fails_at_once_with_the_advice_and_a_clear_after_the_top_up_submits(emu, caplog, capfd):
    """Not retried (AirflowFailException): a retry before the top-up would only be refused again, and the top-up
    is a person's act, after which a clear is the way on. Nothing was created, so nothing is recorded."""
    emu.configure(balance_submissions=0)
    store = FakeStore()
    operator = HailuoVideoOperator(
        task_id="gen", prompt="a paper lantern", acedata_conn_id=balance_dags.CONN, wait_for_completion=False
    )
    with pytest.raises(AirflowFailException) as caught:
        operator.execute({"ti": TI(max_tries=0), "task_state_store": store})
    text = str(caught.value)
    assert "HTTP 403 used_up" in text and TOP_UP in text and "check the API token" not in text
    assert f"POST {emu.url}/hailuo/videos" in text and TOKEN not in text
    assert store.record() is None  # refused, nothing created: not "ambiguous", the next try submits it
    emu.configure(balance_submissions=1)
    result = operator.execute({"ti": TI(max_tries=1), "task_state_store": store})  # cleared after the top-up
    assert result["task_id"] and store.record().task_id == result["task_id"]
    stats = emu.stats()
    assert stats["tasks_created"] == 1 and stats["counts"]["used_up"] == 1


@needs_task_state_store
def test_through_airflow_a_single_operators_used_up_is_not_retried(airflow_db, emu, caplog, capfd):
    emu.configure(balance_submissions=0)
    dag_run, states, _ = run_dag(balance_dags.single_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED and states[("gen", -1)] == "failed", text[-3000:]
    assert emu.stats()["counts"]["used_up"] == 1  # retries=1, and still one request: no retry
    assert TOP_UP in text


# ------------------------------------------------------------------------------------------------
# Every process on the token: one chunk's used_up stops the others' submissions
# ------------------------------------------------------------------------------------------------

OTHER_CHUNK = r"""
import json, sys
from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.hooks.acedata import AceDataHook
hook = AceDataHook("acedata_balance")
try:
    hook.submit("hailuo", {"prompt": "another chunk's item"})
except ApiError as err:
    print(json.dumps({"code": err.code, "status": err.status}))
"""


@pytest.mark.parametrize("store", ["file", "redis"])
def test_one_chunks_used_up_stops_the_other_chunks_submissions(emu, monkeypatch, tmp_path, request, store):
    """Chunk B (this process) is submitting; chunk A (another process) is refused for the balance: B's next
    submission is not sent. A try that starts after the mark (a clear after the top-up) is not stopped by it."""
    shared = request.getfixturevalue("redis_url") if store == "redis" else "file"
    set_connection(monkeypatch, balance_dags.CONN, "acedata", emu.url, TOKEN, shared_pace=shared)
    chunk_b = AceDataHook(balance_dags.CONN)
    chunk_b.watch_balance()
    assert chunk_b.submit("hailuo", {"prompt": "chunk b, item 1"})
    emu.configure(balance_submissions=0)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    chunk_a = subprocess.run([sys.executable, "-c", OTHER_CHUNK], env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(chunk_a.stdout.strip().splitlines()[-1]) == {"code": "used_up", "status": 403}, chunk_a.stderr
    submits = emu.stats()["counts"]["submit"]
    with pytest.raises(ApiError) as caught:
        chunk_b.submit("hailuo", {"prompt": "chunk b, item 2"})
    assert caught.value.code == "used_up" and caught.value.status is None and caught.value.nothing_created
    assert "not sent: a request on this token was refused for its used-up balance during this try" in str(caught.value)
    assert TOP_UP in str(caught.value)
    assert emu.stats()["counts"]["submit"] == submits  # not sent at all
    emu.configure(balance_submissions=1)  # the top-up; then a clear starts a new try
    cleared = AceDataHook(balance_dags.CONN)
    cleared.watch_balance()
    assert cleared.submit("hailuo", {"prompt": "chunk b, item 2"})
    assert emu.stats()["tasks_created"] == 2


@pytest.mark.parametrize("kind", ["process", "file", "redis"])
def test_the_used_up_count_is_shared_by_every_store_and_only_grows(tmp_path, request, kind):
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        one, other = RedisSlots(url), RedisSlots(url)
    elif kind == "file":
        one, other = FileSlots(tmp_path), FileSlots(tmp_path)  # two processes' views of one machine's files
    else:
        one = other = ProcessSlots()  # the threads of one process
    assert one.counted("k", USED_UP) == 0
    one.count("k", USED_UP)
    other.count("k", USED_UP)
    assert one.counted("k", USED_UP) == other.counted("k", USED_UP) == 2
    assert one.reserve("k", 0.1) == 0.0 and one.counted("k", USED_UP) == 2  # taking slots keeps the count
    assert other.counted("another token", USED_UP) == 0
