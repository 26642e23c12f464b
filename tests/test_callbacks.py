"""Vendor callbacks finish the wait, and a callback is a hint, never proof.

The receiver only records claims and answers; the confirmer (``plugins.confirmer``) resumes tasks in the
background. Here it does not run by itself: each test runs its passes with ``confirmer.confirm_now()``, so
nothing waits on a thread or a clock.

Generations are submitted for real (``dag.test()`` against the emulator; the connection has a
``callback_base_url``), so each request carries its own ticketed callback URL; their task instances are
then put into the deferred state a real trigger leaves (a ``VideoTaskTrigger`` row), and callbacks are
posted over real HTTP to the receiver (the plugin's FastAPI app, served on loopback, on the suite's
metadata DB). The full path under a real scheduler and triggerer is in ``make e2e``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest
from conftest import TOKEN, set_connection
from dags import callback_dags
from starlette.applications import Starlette
from starlette.routing import Mount
from test_pace import redis_url  # noqa: F401  (a fixture: a real redis-server)
from test_reliability import run_dag

from airflow_provider_vidgen.core.tickets import PATH, Ticket, callback_key, callback_url
from airflow_provider_vidgen.emulator.server import ThreadedServer
from airflow_provider_vidgen.hooks import pace
from airflow_provider_vidgen.plugins import claims as claims_module
from airflow_provider_vidgen.plugins.claims import MAX_CLAIMS_PER_TICKET, claims_for
from airflow_provider_vidgen.plugins.confirmer import CONFIRMER, Confirmer
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger, next_event


@pytest.fixture(scope="module")
def receiver():
    from airflow_provider_vidgen.plugins.app import app

    with ThreadedServer(Starlette(routes=[Mount("/vidgen", app=app)])).start() as server:
        yield server


@pytest.fixture(autouse=True)
def claims_here(tmp_path, monkeypatch):
    """Each test's claims in its own folder (the connections' ``shared_pace`` is ``file``), and no confirmer
    thread: the tests run its passes."""
    CONFIRMER.autostart = False
    CONFIRMER.stop()
    monkeypatch.setitem(pace._stores, "file", pace.FileSlots(tmp_path / "pace"))
    # Paces and leases made here hold that folder's store: forgotten after the test, so later tests on the
    # same token share the machine's real folder with their other processes again.
    monkeypatch.setattr(pace, "_paces", {})
    monkeypatch.setattr(pace, "_in_flight", {})
    claims_module.forget_claim_stores()
    yield claims_for("file")
    claims_module.forget_claim_stores()


@pytest.fixture
def confirmer(claims_here):
    """A confirmer of the test's claims store, run one pass at a time."""
    made = Confirmer(stores=lambda: [claims_here], holder="tests")
    yield made
    made.stop()


def ti_key(dag_run: Any, task_id: str) -> tuple[str, str, str, int]:
    return dag_run.dag_id, dag_run.run_id, task_id, -1


@pytest.fixture
def owner(airflow_db, emulator, monkeypatch, receiver):
    """One run of the owner DAG: a single, a batch of three and a HiDream generation, each with its own
    callback URL; the emulator's own callbacks are off (the tests post them), its clock held."""
    emulator.configure(callback_loss_rate=1.0)
    for conn_id, conn_type in (("acedata_default", "acedata"), ("hidream_default", "hidream")):
        set_connection(monkeypatch, conn_id, conn_type, emulator.url, TOKEN, callback_base_url=receiver.url,
                       shared_pace="file")  # fmt: skip
    emulator.hold_clock()  # every task stays queued until a test advances the clock
    dag_run, states, xcoms = run_dag(callback_dags.owner_dag)
    assert set(states.values()) == {"success"}, states
    return dag_run, xcoms


def defer(dag_run: Any, task_id: str, task_ids: list[str], service: str, conn_id: str = "acedata_default") -> None:
    """Put a task instance into the state its deferral leaves: DEFERRED, on a VideoTaskTrigger row."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    trigger = VideoTaskTrigger(conn_id, service, task_ids, poll_interval=300, callbacks=True)
    with create_session() as session:
        row = Trigger.from_object(trigger)
        session.add(row)
        session.flush()
        ti = session.scalars(
            select(TI).where(TI.dag_id == dag_run.dag_id, TI.run_id == dag_run.run_id, TI.task_id == task_id)
        ).one()
        ti.state, ti.trigger_id, ti.next_method = TaskInstanceState.DEFERRED, row.id, "execute_complete"


def ti_now(dag_run: Any, task_id: str) -> Any:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TI).where(TI.dag_id == dag_run.dag_id, TI.run_id == dag_run.run_id, TI.task_id == task_id)
        ).one()
        session.expunge(ti)
        return ti


def vendor_callback(emulator: Any, task_id: str) -> tuple[str, dict[str, Any]]:
    """The URL the vendor got with the submission, and the body it posts there once the task is final."""
    task = emulator.state.tasks[task_id]
    face = emulator.state.faces[task.vendor]
    return task.callback_url, face.callback_body(task, task.queued + task.running)


def post(url: str, body: Any) -> httpx.Response:
    return httpx.post(url, json=body, trust_env=False, timeout=30)


def test_a_callback_resumes_the_waiting_task_with_the_result_confirmed_from_the_api(
    owner, emulator, receiver, confirmer, caplog
):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "hailuo")
    emulator.advance(5)  # the video is ready
    url, body = vendor_callback(emulator, task_id)
    assert url.startswith(f"{receiver.url.rstrip('/')}{PATH}/acedata_default/")
    body["data"][0]["video_url"] = "https://evil.example/not-the-video.mp4"  # a forged URL in the body
    before = emulator.stats()["counts"]["retrieve"]
    with caplog.at_level(logging.DEBUG):
        answer = post(url, body)
        assert answer.status_code == 200 and answer.json()["effect"] == "recorded"
        assert emulator.stats()["counts"]["retrieve"] == before  # nothing asked in the request
        assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]
    assert emulator.stats()["counts"]["retrieve"] == before + 1  # one confirming retrieve
    ti = ti_now(dag_run, "single")
    assert ti.state == "scheduled" and ti.trigger_id is None
    event = ti.next_kwargs["event"]
    assert event["status"] == "success" and event["via"] == "callback"
    (result,) = event["results"]
    assert result["task_id"] == task_id and result["state"] == "succeeded"
    assert result["videos"][0]["url"].startswith(emulator.url)  # from the API, never the body's
    ticket = url.rsplit("/", 1)[1]
    assert ticket not in caplog.text and TOKEN not in caplog.text and ticket not in answer.text

    replay = post(url, body)  # the same callback again: the task is no longer waiting
    assert replay.status_code == 200
    report = confirmer.confirm_now()
    assert (report.resumed, report.dropped) == ([], 1)
    assert emulator.stats()["counts"]["retrieve"] == before + 1


def emulator_free(url: str) -> str:
    return url.split(PATH)[0]


def test_forged_tickets_foreign_tasks_and_bad_bodies_have_no_effect(owner, emulator, confirmer, claims_here):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "hailuo")
    emulator.advance(5)
    url, body = vendor_callback(emulator, task_id)
    base, ticket = url.rsplit("/", 1)
    forged_key = callback_key("not-the-token")
    forged = callback_url(emulator_free(url), "acedata_default", forged_key, Ticket(
        "acedata", "hailuo", dag_run.dag_id, dag_run.run_id, "single", -1, 0
    ))  # fmt: skip
    other_task = xcoms[("batch", -1, "vendor_task_id")][0]  # a task of another submission
    before = emulator.stats()["counts"]["retrieve"]
    answers = {
        "forged ticket": post(forged, body),
        "tampered ticket": post(f"{base}/{ticket[:-2]}xx", body),
        "unknown connection": post(url.replace("/acedata_default/", "/nope/"), body),
        "another task's body": post(url, {**body, "task_id": other_task}),
        "not json": httpx.post(url, content=b"<html>", trust_env=False),
        "oversize": httpx.post(url, content=b"{" + b" " * 300_000 + b"}", trust_env=False),
        "no task id": post(url, {"success": True}),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "forged ticket": 404,
        "tampered ticket": 404,
        "unknown connection": 404,
        "another task's body": 200,  # recorded: only the confirmer reads what the submission recorded
        "not json": 400,
        "oversize": 413,
        "no task id": 202,
    }
    assert confirmer.confirm_now().dropped == 1  # the other task's id: not what this ticket's item recorded
    assert emulator.stats()["counts"]["retrieve"] == before  # not one vendor request for any of them
    assert ti_now(dag_run, "single").state == "deferred" and claims_here.pending() == []


def test_a_callback_for_another_runs_task_has_no_effect(owner, emulator, confirmer):
    _, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    url, body = vendor_callback(emulator, task_id)
    second_run, _, second = run_dag(callback_dags.owner_dag)  # a later run of the same DAG, its own task ids
    defer(second_run, "single", [second[("single", -1, "vendor_task_id")]], "hailuo")
    emulator.advance(5)
    assert post(url, body).status_code == 200
    report = confirmer.confirm_now()  # run 1's ticket: run 2's task is none of its business
    assert (report.resumed, report.dropped) == ([], 1)
    assert ti_now(second_run, "single").state == "deferred"


def test_an_earlier_trys_generation_is_dropped_and_the_new_trys_callback_resumes(owner, emulator, confirmer):
    """Tickets name the task instance and item, not the try: a retry that reattaches keeps its callbacks.
    What a try submitted decides instead: the claim must name the id the task instance recorded last."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_run, xcoms = owner
    first = xcoms[("single", -1, "vendor_task_id")]
    url, old_body = vendor_callback(emulator, first)
    answer = httpx.post(  # try 2 (reattach=False) submits again, with the same ticket in its callback URL
        f"{emulator.url}/hailuo/videos",
        json={"prompt": "a callback kite", "callback_url": url},
        headers={"authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30,
    )
    second = answer.json()["task_id"]
    assert second != first
    with create_session() as session:  # ...and records its own id, as the operator does
        XComModel.set("vendor_task_id", second, dag_id=dag_run.dag_id, task_id="single", run_id=dag_run.run_id,
                      session=session)  # fmt: skip
    defer(dag_run, "single", [second], "hailuo")
    emulator.advance(5)
    assert post(url, old_body).json()["effect"] == "recorded"  # try 1's generation, under the same ticket
    report = confirmer.confirm_now()
    assert (report.resumed, report.dropped) == ([], 1)
    assert ti_now(dag_run, "single").state == "deferred"
    _, new_body = vendor_callback(emulator, second)
    assert post(url, new_body).json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]


def test_a_callback_claiming_a_final_state_the_api_does_not_confirm_changes_nothing(owner, emulator, confirmer):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "hailuo")
    url, body = vendor_callback(emulator, task_id)  # the clock is held: the task is still queued
    assert post(url, body).json()["effect"] == "recorded"
    assert confirmer.confirm_now().unconfirmed == [ti_key(dag_run, "single")]
    assert ti_now(dag_run, "single").state == "deferred"
    emulator.advance(5)  # now it is final: the genuine callback resumes the task
    assert post(url, body).json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]


def test_intermediate_callbacks_cost_no_vendor_request(owner, emulator):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "hailuo")
    url, _ = vendor_callback(emulator, task_id)
    before = emulator.stats()["counts"]["retrieve"]
    for state in ("pending", "processing", "processing"):  # Luma calls back at every change, up to 3 times
        assert post(url, {"task_id": task_id, "state": state}).json()["effect"] == "ignored"
    assert emulator.stats()["counts"]["retrieve"] == before


def test_a_batch_resumes_once_every_item_is_confirmed_in_input_order(owner, emulator, confirmer, claims_here):
    """Claims are noted for free; once the last one is in, one batch request confirms every item."""
    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    defer(dag_run, "batch", ids, "hailuo")
    emulator.advance(5)
    before = emulator.stats()["counts"]
    effects = []
    passes = []
    for task_id in (ids[2], ids[0], ids[0], ids[1]):  # out of order, one duplicate
        url, body = vendor_callback(emulator, task_id)
        effects.append(post(url, body).json()["effect"])
        passes.append(confirmer.confirm_now().resumed)
    after = emulator.stats()["counts"]
    assert effects == ["recorded"] * 4
    assert passes == [[], [], [], [ti_key(dag_run, "batch")]]
    assert (after["retrieve_batch"] - before["retrieve_batch"], after["retrieve"] - before["retrieve"]) == (1, 0)
    event = ti_now(dag_run, "batch").next_kwargs["event"]
    assert [result["task_id"] for result in event["results"]] == ids
    assert claims_here.pending() == []


def test_a_batch_whose_items_finish_hours_apart_keeps_its_first_claims_while_its_ticket_is_good(
    owner, emulator, confirmer, claims_here
):
    """Claims live as long as their ticket (the task's own timeout, at least a week), not an hour."""
    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    defer(dag_run, "batch", ids, "hailuo")
    emulator.advance(5)
    calls = {task_id: vendor_callback(emulator, task_id) for task_id in ids}
    assert post(*calls[ids[0]]).json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == []  # items 1 and 2 still render
    (first,) = claims_here.pending()
    assert first.kept_until == first.expires > first.received + 6 * 86400  # its ticket's expiry
    confirmer.clock = lambda: time.time() + 3 * 3600  # three hours later, the other two finish
    for task_id in ids[1:]:
        assert post(*calls[task_id]).json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "batch")]


def test_claims_are_dropped_once_their_ticket_expired(owner, emulator, confirmer, claims_here):
    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    defer(dag_run, "batch", ids, "hailuo")
    emulator.advance(5)
    assert post(*vendor_callback(emulator, ids[0])).json()["effect"] == "recorded"
    (claim,) = claims_here.pending()
    confirmer.clock = lambda: claim.kept_until + 1
    assert confirmer.confirm_now().dropped == 1
    assert claims_here.pending() == []


def test_callbacks_before_a_batch_defers_count_once_it_waits_bound_to_their_item(owner, emulator, confirmer):
    """A large batch can take longer to submit than a video to render: callbacks that come while it is
    still submitting are kept with their item, and count once it waits, if it recorded that item's id."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    with create_session() as session:  # the batch task is still submitting
        ti = session.scalars(select(TI).where(TI.run_id == dag_run.run_id, TI.task_id == "batch")).one()
        ti.state = TaskInstanceState.RUNNING
    emulator.advance(5)
    calls = {task_id: vendor_callback(emulator, task_id) for task_id in ids}
    first_url = calls[ids[0]][0]
    early = [
        post(first_url, calls[ids[1]][1]).json()["effect"],  # item 0's ticket claiming item 1's id
        post(*calls[ids[0]]).json()["effect"],
    ]
    assert confirmer.confirm_now().dropped == 0  # kept while the batch submits
    defer(dag_run, "batch", ids, "hailuo")
    report = confirmer.confirm_now()
    assert (report.resumed, report.dropped) == ([], 1)  # item 0's ticket naming item 1's id: not its own
    post(*calls[ids[2]])
    assert confirmer.confirm_now().resumed == []  # item 1 counts only from its own ticket
    post(*calls[ids[1]])
    assert early == ["recorded", "recorded"]
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "batch")]
    event = ti_now(dag_run, "batch").next_kwargs["event"]
    assert [result["task_id"] for result in event["results"]] == ids


def test_a_sensor_waiting_on_the_task_in_the_same_run_is_resumed(owner, emulator, confirmer):
    """Submitted without waiting (its own task instance is done), collected by a sensor of the run."""
    dag_run, xcoms = owner
    task_id = xcoms[("hidream", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "txt2video", conn_id="hidream_default")  # stands in for the sensor
    emulator.advance(5)
    url, body = vendor_callback(emulator, task_id)
    assert set(body) == {"main_task_id", "sub_task_results"}
    assert post(url, body).json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]
    assert ti_now(dag_run, "single").next_kwargs["event"]["results"][0]["task_id"] == task_id


def test_hidreams_batch_docs_callback_shape_is_read_too(owner, emulator, confirmer):
    dag_run, xcoms = owner
    task_id = xcoms[("hidream", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "txt2video", conn_id="hidream_default")
    emulator.configure(hidream_notify_shape="result")
    emulator.advance(5)
    url, body = vendor_callback(emulator, task_id)
    assert set(body) == {"main_task_id", "result"}
    assert post(url, body).json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]


def test_the_callback_url_is_in_the_request_only_never_in_kwargs_or_xcom(owner, emulator):
    _, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    url = emulator.state.tasks[task_id].callback_url
    assert emulator.state.tasks[task_id].request["callback_url"] == url
    assert all(url.rsplit("/", 1)[1] not in json.dumps(value, default=str) for value in xcoms.values())
    kwargs = VideoTaskTrigger("acedata_default", "hailuo", [task_id], callbacks=True).serialize()[1]
    assert "/vidgen/" not in json.dumps(kwargs)


def test_a_task_waiting_in_its_worker_slot_asks_for_no_callback_and_polls_at_its_interval(
    airflow_db, emulator, monkeypatch, receiver
):
    """Nothing resumes a task that waits inline: with a callback it would wait out the safety poll."""
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, TOKEN, callback_base_url=receiver.url,
                   shared_pace="file")  # fmt: skip
    _, states, xcoms = run_dag(callback_dags.inline_dag)
    assert states == {("inline", -1): "success"}
    task = emulator.state.tasks[xcoms[("inline", -1, "vendor_task_id")]]
    assert "callback_url" not in task.request and task.callback_url in (None, "")


async def test_a_lost_callback_is_found_by_the_safety_poll(emulator):
    """No callback ever comes: the trigger's slow safety poll still finds the video."""
    emulator.configure(callback_loss_rate=1.0)
    from airflow_provider_vidgen.hooks.acedata import AceDataHook

    hook = AceDataHook()
    task_id = hook.submit("hailuo", {"prompt": "a lost callback"})
    hook.close()
    emulator.advance(5)
    trigger = VideoTaskTrigger("acedata_default", "hailuo", [task_id], poll_interval=0.2, callbacks=True)
    event = await next_event(trigger)
    assert event["status"] == "success" and event["results"][0]["state"] == "succeeded"


async def test_a_callback_before_the_deferral_is_covered_by_the_first_poll(emulator):
    """The video was final before the task deferred (its callback found nothing waiting): the trigger's
    first poll, at once, finds it; the safety interval (an hour here) is never waited out."""
    import asyncio

    from airflow_provider_vidgen.hooks.acedata import AceDataHook

    emulator.configure(callback_loss_rate=1.0)
    hook = AceDataHook()
    task_id = hook.submit("hailuo", {"prompt": "final before the deferral"})
    hook.close()
    emulator.advance(5)
    trigger = VideoTaskTrigger("acedata_default", "hailuo", [task_id], poll_interval=3600, callbacks=True)
    event = await asyncio.wait_for(next_event(trigger), timeout=60)  # bounds a failure; never waited out
    assert event["status"] == "success" and event["via"] == "poll"


async def test_hidreams_unknown_id_fails_as_not_found_after_the_grace_time(emulator):
    import time

    trigger = VideoTaskTrigger(
        "hidream_default", "txt2video", ["no-such-task"], poll_interval=0.1, unknown_deadline=time.time() - 1
    )
    event = await next_event(trigger)
    (result,) = event["results"]
    assert result["state"] == "failed" and result["error"]["code"] == "not_found"
    assert "no-such-task" in result["error"]["message"] and "grace time" in result["error"]["message"]


def test_a_sensor_on_called_back_results_keeps_only_the_safety_poll(owner, emulator):
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import TaskDeferred

    from airflow_provider_vidgen.sensors.video import VideoTaskSensor

    _, xcoms = owner
    single, batch = xcoms[("single", -1, "return_value")], xcoms[("batch", -1, "return_value")]
    assert single["callback"] is True and all(item["callback"] is True for item in batch)
    for upstream, called_back in (([single, *batch], True), ([single, single["task_id"]], False)):
        sensor = VideoTaskSensor(
            task_id=f"wait_{called_back}", task_ids=upstream, service="hailuo", poke_interval=5, deferrable=True
        )
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute({"ti": PushedXComs()})
        trigger = deferred.value.trigger
        assert (trigger.callbacks, trigger.poll_interval) == ((True, 300.0) if called_back else (False, 5))


class PushedXComs:
    """The task instance of a sensor executed outside a run: what it pushes is kept here."""

    start_date = None

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


# ------------------------------------------------------------------------------------------------
# Bounded by construction (issue 29, item 3)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_signers():
    """Each test's connections are looked up again (the receiver caches a connection's key for a minute)."""
    from airflow_provider_vidgen.plugins.callbacks import forget_signers

    forget_signers()
    yield
    forget_signers()


def test_a_ticket_is_good_only_for_its_connection_and_until_it_expires(owner, emulator, monkeypatch, confirmer):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "hailuo")
    emulator.advance(5)
    url, body = vendor_callback(emulator, task_id)
    base = emulator_free(url)
    # The same token under another connection id: its key is the same, the ticket names the other one.
    set_connection(monkeypatch, "acedata_twin", "acedata", emulator.url, TOKEN, callback_base_url=base)
    assert post(url.replace("/acedata_default/", "/acedata_twin/"), body).status_code == 404
    expired = Ticket("acedata", "hailuo", dag_run.dag_id, dag_run.run_id, "single", -1, 0, "acedata_default", 1)
    assert post(callback_url(base, "acedata_default", callback_key(TOKEN), expired), body).status_code == 404
    assert ti_now(dag_run, "single").state == "deferred"
    assert post(url, body).json()["effect"] == "recorded"  # the ticket the submission carried is good
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]


def test_a_flood_of_bad_urls_looks_nothing_up_after_the_first(owner, emulator, monkeypatch):
    from airflow_provider_vidgen.plugins import callbacks

    _, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    url, body = vendor_callback(emulator, task_id)
    base, ticket = url.rsplit("/", 1)
    lookups: list[str] = []
    real = callbacks._connection
    monkeypatch.setattr(callbacks, "_connection", lambda conn_id: lookups.append(conn_id) or real(conn_id))
    statuses = {post(f"{base}/{ticket[:-4]}{n:04d}", body).status_code for n in range(200)}
    # The real ticket under other ids, garbage tickets under made-up ids: no ticket for that URL, no lookup.
    statuses |= {post(url.replace("/acedata_default/", f"/nope{n % 3}/"), body).status_code for n in range(60)}
    statuses |= {post(f"{base.rsplit('/', 1)[0]}/made-up-{n}/garbage.x", body).status_code for n in range(60)}
    statuses.add(post(url.replace("/acedata_default/", "/bad%20id/"), body).status_code)
    assert statuses == {404}
    assert lookups == ["acedata_default"]  # once, for the forged signatures under the real id (then cached)


def unsigned_ticket_for(conn_id: str, dag_run: Any) -> str:
    """A ticket as a forger who read our code makes it: right shape, for this URL, unexpired, signed with a
    key of their own."""
    made_up = Ticket("acedata", "hailuo", dag_run.dag_id, dag_run.run_id, "single", -1, 0, conn_id, 2**40)
    return callback_url("", conn_id, b"a forger's key", made_up).rsplit("/", 1)[1]


class MovedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_well_formed_tickets_naming_made_up_connections_cost_a_bounded_trickle_of_lookups(owner, emulator, monkeypatch):
    from airflow_provider_vidgen.plugins import callbacks

    dag_run, xcoms = owner
    url, body = vendor_callback(emulator, xcoms[("single", -1, "vendor_task_id")])
    base = url.split("/acedata_default/", 1)[0]
    clock = MovedClock()
    monkeypatch.setattr(callbacks, "clock", clock)
    lookups: list[str] = []
    real = callbacks._connection
    monkeypatch.setattr(callbacks, "_connection", lambda conn_id: lookups.append(conn_id) or real(conn_id))
    assert post(url, body).status_code == 200  # the real connection has a key here: it is known
    flood = [(f"{base}/made-up-{n}/{unsigned_ticket_for(f'made-up-{n}', dag_run)}", body) for n in range(100)]
    assert set(post_all(flood)) == {404}
    assert len(lookups) == callbacks.LOOKUP_BURST  # the real id's first lookup and the burst's rest, then nothing
    clock.now += callbacks.LOOKUP_EVERY_SECONDS
    assert set(post_all(flood[50:60])) == {404} and len(lookups) == 1 + callbacks.LOOKUP_BURST  # one more
    # A minute on, the budget spent again: the known connection's key is still looked up again when it is due.
    clock.now += callbacks.KEY_TTL_SECONDS
    assert set(post_all(flood[:40])) == {404}
    assert post(url, body).status_code == 200
    assert lookups[-1] == "acedata_default"


def test_callbacks_that_find_a_busy_connections_key_due_wait_for_one_lookup(owner, emulator, monkeypatch):
    """A burst arriving as the key falls due: every request finds it not cached, one looks it up."""
    from concurrent.futures import ThreadPoolExecutor

    from airflow_provider_vidgen.plugins import callbacks

    waiting, arrived, release = 8, set(), threading.Event()
    everyone_in = threading.Event()
    real_cached, real_connection = callbacks.connection_signer_cached, callbacks._connection
    lookups: list[str] = []

    def cached(conn_id: str) -> Any:
        found = real_cached(conn_id)
        arrived.add(threading.get_ident())  # every caller has found the key not cached (or is past that)
        if len(arrived) == waiting:
            everyone_in.set()
        return found

    def connection(conn_id: str) -> Any:
        lookups.append(conn_id)
        assert everyone_in.wait(30), "not every caller asked for the key"
        release.wait(30)
        return real_connection(conn_id)

    monkeypatch.setattr(callbacks, "connection_signer_cached", cached)
    monkeypatch.setattr(callbacks, "_connection", connection)
    with ThreadPoolExecutor(waiting) as pool:
        found = [pool.submit(callbacks.connection_signer, "acedata_default") for _ in range(waiting)]
        assert everyone_in.wait(30)
        release.set()
        signers = [f.result(timeout=30) for f in found]
    assert lookups == ["acedata_default"]
    assert all(isinstance(s, callbacks.Signer) for s in signers) and len({s.key for s in signers}) == 1


def test_a_failing_secrets_backend_is_answered_503_and_asked_again_soon(owner, emulator, monkeypatch):
    from airflow_provider_vidgen.plugins import callbacks

    _, xcoms = owner
    url, body = vendor_callback(emulator, xcoms[("single", -1, "vendor_task_id")])
    clock = MovedClock()
    monkeypatch.setattr(callbacks, "clock", clock)
    real, failing = callbacks._connection, [True]

    def connection(conn_id: str) -> Any:
        if failing[0]:
            raise ConnectionError("vault sealed")
        return real(conn_id)

    monkeypatch.setattr(callbacks, "_connection", connection)
    assert post(url, body).status_code == 503  # not "unknown": the connection may well exist
    failing[0] = False
    assert post(url, body).status_code == 503  # the failure is cached, briefly
    clock.now += callbacks.UNREACHABLE_TTL_SECONDS
    assert post(url, body).status_code == 200


def test_bodies_too_deep_or_too_slow_are_refused_without_an_error(owner, emulator, receiver, monkeypatch, caplog):
    import socket

    from airflow_provider_vidgen.plugins import callbacks

    _, xcoms = owner
    url, _ = vendor_callback(emulator, xcoms[("single", -1, "vendor_task_id")])
    deep = b"[" * 100_000 + b"]" * 100_000  # 200 KB, under the size cap
    assert httpx.post(url, content=deep, trust_env=False, timeout=30).status_code == 400
    monkeypatch.setattr(callbacks, "BODY_DEADLINE_SECONDS", 0.5)
    path = url.split(receiver.url, 1)[1]
    host, port = receiver.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n"
        slow.sendall(head.encode() + b"{")  # then nothing more: a client that never finishes its body
        answer = slow.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408")
    effects: list[str] = []
    real_answer = callbacks.answer
    monkeypatch.setattr(callbacks, "answer", lambda outcome: effects.append(outcome.effect) or real_answer(outcome))
    with socket.create_connection((host, int(port)), timeout=10) as gone:
        gone.sendall(head.encode() + b'{"task_id": ')  # then the client hangs up mid-body
    deadline = time.monotonic() + 30
    while "gone" not in effects and time.monotonic() < deadline:  # until the receiver has seen the hang-up
        time.sleep(0.01)
    assert effects == ["gone"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_brackets_inside_strings_do_not_count_as_nesting(owner, emulator, confirmer):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "single", [task_id], "hailuo")
    emulator.advance(5)
    url, body = vendor_callback(emulator, task_id)
    answer = post(url, {**body, "prompt": "[" * 500 + "{" * 500})  # a prompt may hold any characters
    assert answer.json()["effect"] == "recorded"
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "single")]


def test_claims_per_ticket_are_bounded_however_many_callbacks_come(owner, emulator, claims_here):
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    dag_run, xcoms = owner
    first = xcoms[("batch", -1, "vendor_task_id")][0]
    with create_session() as session:  # the batch is still submitting
        ti = session.scalars(select(TI).where(TI.run_id == dag_run.run_id, TI.task_id == "batch")).one()
        ti.state = TaskInstanceState.RUNNING
    emulator.advance(5)
    url, body = vendor_callback(emulator, first)
    answers = [post(url, {**body, "task_id": f"made-up-{n}"}).status_code for n in range(30)]  # one ticket
    assert answers == [200] * MAX_CLAIMS_PER_TICKET + [202] * (30 - MAX_CLAIMS_PER_TICKET)
    assert post(url, {**body, "task_id": "made-up-0"}).status_code == 200  # a duplicate replaces its own record
    assert sorted(claim.vendor_task_id for claim in claims_here.pending()) == ["made-up-0", "made-up-1", "made-up-2"]


def test_the_ticket_never_reaches_the_access_log(owner, emulator, monkeypatch, capsys, caplog):
    """Through Airflow's own API server app (its access-log middleware), as the API server serves it."""
    from airflow.api_fastapi import app as api_app

    _, xcoms = owner
    url, body = vendor_callback(emulator, xcoms[("single", -1, "vendor_task_id")])
    ticket = url.rsplit("/", 1)[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "callbacks-tests-" + "k" * 64)
        api_app.purge_cached_app()
        try:
            with ThreadedServer(api_app.create_app("core")).start() as server:
                answer = post(f"{server.url}{PATH}/acedata_default/{ticket}", body)
        finally:
            api_app.purge_cached_app()
    assert answer.status_code in (200, 202)
    logged = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert ticket not in logged
    try:  # Airflow >= 3.2 logs every request itself; older lines leave it to uvicorn, which reads the same scope
        import airflow.api_fastapi.common.http_access_log  # noqa: F401
    except ImportError:
        return
    assert "/vidgen/callbacks/acedata_default/***" in logged


def test_the_path_is_redacted_in_the_requests_scope():
    from airflow_provider_vidgen.plugins.callbacks import redact_path

    scope = {
        "path": "/vidgen/callbacks/acedata_default/eyJ.sig",
        "raw_path": b"/vidgen/callbacks/acedata_default/eyJ.sig",
    }
    redact_path(scope)
    assert scope == {
        "path": "/vidgen/callbacks/acedata_default/***",
        "raw_path": b"/vidgen/callbacks/acedata_default/***",
    }


# ------------------------------------------------------------------------------------------------
# Answered at once, confirmed in the background (issue 29, items 1, 2 and 4)
# ------------------------------------------------------------------------------------------------


class Counted:
    """Metadata-DB statements and secrets-backend lookups made while it is open (in this process: the
    receiver's server runs in a thread of it)."""

    def __init__(self, monkeypatch: Any) -> None:
        from airflow import settings
        from airflow.models.connection import Connection

        self.statements: list[str] = []
        self.lookups: list[str] = []
        self.engine = settings.engine
        real = Connection.get_connection_from_secrets.__func__  # type: ignore[attr-defined]

        def looked_up(cls: Any, conn_id: str) -> Any:
            self.lookups.append(conn_id)
            return real(cls, conn_id)

        monkeypatch.setattr(Connection, "get_connection_from_secrets", classmethod(looked_up))

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> Counted:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._statement)


def post_all(requests: list[tuple[str, Any]], threads: int = 32) -> list[int]:
    """Post every (url, body) at once from ``threads`` clients: the status codes, in order."""
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def one(request: tuple[str, Any]) -> int:
        if not hasattr(local, "client"):
            local.client = httpx.Client(trust_env=False, timeout=30)
        url, body = request
        return local.client.post(url, json=body).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, requests))


def test_a_burst_is_answered_2xx_with_no_db_vendor_or_secrets_work_in_the_request(
    owner, emulator, confirmer, claims_here, monkeypatch
):
    """The confirmer is stopped during the burst: every answer comes from the request alone."""
    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    defer(dag_run, "batch", ids, "hailuo")
    emulator.advance(5)
    calls = [vendor_callback(emulator, task_id) for task_id in ids]
    assert post(*calls[0]).status_code == 200  # the connection's key is now cached
    before = emulator.stats()["counts"]
    with Counted(monkeypatch) as counted:
        statuses = post_all([calls[n % len(calls)] for n in range(600)])
    assert statuses == [200] * 600
    assert (counted.statements, counted.lookups) == ([], [])
    assert emulator.stats()["counts"] == before  # not one vendor request
    assert len(claims_here.pending()) == 3  # one record per item and id, however often it was posted
    report = confirmer.confirm_now()
    assert report.resumed == [ti_key(dag_run, "batch")] and report.status_requests == 1
    assert emulator.stats()["counts"]["retrieve_batch"] == before["retrieve_batch"] + 1


def test_a_flood_of_invalid_tickets_queries_neither_the_db_nor_the_secrets(owner, emulator, monkeypatch):
    dag_run, xcoms = owner
    task_id = xcoms[("single", -1, "vendor_task_id")]
    url, body = vendor_callback(emulator, task_id)
    base, ticket = url.rsplit("/", 1)
    assert post(url, body).status_code == 200  # the connection's key is now cached
    expired = callback_url(emulator_free(url), "acedata_default", callback_key(TOKEN), Ticket(
        "acedata", "hailuo", dag_run.dag_id, dag_run.run_id, "single", -1, 0, "acedata_default", 1
    ))  # fmt: skip
    flood = [(f"{base}/{ticket[:-4]}{n:04d}", body) for n in range(1000)] + [(expired, body)] * 200
    with Counted(monkeypatch) as counted:
        statuses = post_all(flood + [(url, body)] * 20)
    assert statuses == [404] * len(flood) + [200] * 20  # the real callbacks among them: answered
    assert (counted.statements, counted.lookups) == ([], [])


def test_a_failed_confirmation_keeps_the_claims_and_a_later_pass_resumes(owner, emulator, claims_here):
    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    defer(dag_run, "batch", ids, "hailuo")
    emulator.advance(5)
    for task_id in ids:
        assert post(*vendor_callback(emulator, task_id)).status_code == 200
    now = [1_000.0 + time.time()]
    confirmer = Confirmer(stores=lambda: [claims_here], clock=lambda: now[0], holder="tests")
    emulator.configure(fail_500_rate=1.0)  # the vendor's API fails every request
    assert confirmer.confirm_now().unconfirmed == [ti_key(dag_run, "batch")]
    kept = claims_here.pending()
    assert len(kept) == 3 and {(claim.attempts, claim.not_before) for claim in kept} == {(1, now[0] + 1)}
    emulator.configure(fail_500_rate=0.0)
    before = emulator.stats()["counts"]["retrieve_batch"]
    assert confirmer.confirm_now().unconfirmed == []  # backing off: not asked again yet
    assert emulator.stats()["counts"]["retrieve_batch"] == before
    now[0] += 1
    assert confirmer.confirm_now().resumed == [ti_key(dag_run, "batch")]
    assert ti_now(dag_run, "batch").state == "scheduled" and claims_here.pending() == []


def test_a_confirmer_that_lost_its_lease_mid_pass_leaves_the_rest_to_the_one_that_took_over(
    owner, emulator, claims_here, monkeypatch
):
    """Groups are confirmed one after the other at the status pace: the lease is renewed before each."""
    from airflow_provider_vidgen.plugins import confirmer as confirmer_module
    from airflow_provider_vidgen.plugins.confirmer import LEASE_SECONDS

    dag_run, xcoms = owner
    acedata, hidream = xcoms[("single", -1, "vendor_task_id")], xcoms[("hidream", -1, "vendor_task_id")]
    defer(dag_run, "single", [acedata], "hailuo")
    defer(dag_run, "batch", [hidream], "txt2video", conn_id="hidream_default")  # stands in for a sensor
    emulator.advance(300)
    for task_id in (acedata, hidream):
        assert post(*vendor_callback(emulator, task_id)).status_code == 200
    first, second = (Confirmer(stores=lambda: [claims_here], holder=name) for name in ("first", "second"))
    real_confirm, confirmed = confirmer_module.confirm, []

    def slow_confirm(conn_id: str, service: str, task_ids: list[str]) -> Any:
        confirmed.append(conn_id)
        claims_here.clock = lambda: time.time() + LEASE_SECONDS + 1  # the first group outlasted the lease ...
        assert claims_here.lead("second", LEASE_SECONDS)  # ... and the other API server's confirmer took it
        return real_confirm(conn_id, service, task_ids)

    monkeypatch.setattr(confirmer_module, "confirm", slow_confirm)
    report = first.confirm_now()
    assert len(report.resumed) == 1 and len(confirmed) == 1  # its first group only
    assert len(claims_here.pending()) == 1
    assert second.confirm_now().resumed == [next(k for k in (ti_key(dag_run, "single"), ti_key(dag_run, "batch"))
                                             if k not in report.resumed)]  # fmt: skip
    assert {ti_now(dag_run, t).state for t in ("single", "batch")} == {"scheduled"}
    assert claims_here.pending() == []


def test_two_receivers_sharing_a_file_store_one_confirms_and_the_other_takes_over(
    owner, emulator, receiver, claims_here
):
    """Two API servers (two app instances) record into one store; one confirmer at a time works on it, and
    when its lease expires (its server killed) the other takes over."""
    from fastapi import FastAPI

    from airflow_provider_vidgen.plugins import callbacks
    from airflow_provider_vidgen.plugins.confirmer import LEASE_SECONDS

    dag_run, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    single = xcoms[("single", -1, "vendor_task_id")]
    defer(dag_run, "batch", ids, "hailuo")
    defer(dag_run, "single", [single], "hailuo")
    emulator.advance(5)
    second_app = FastAPI()
    second_app.include_router(callbacks.router)
    first, second = Confirmer(stores=lambda: [claims_here]), Confirmer(stores=lambda: [claims_here])
    with ThreadedServer(Starlette(routes=[Mount("/vidgen", app=second_app)])).start() as other:
        url, body = vendor_callback(emulator, ids[0])
        assert post(url, body).status_code == 200
        assert first.confirm_now().led == 1  # it leads now; nothing is complete yet
        for task_id in ids[1:]:  # the rest reach the other API server
            url, body = vendor_callback(emulator, task_id)
            assert post(url.replace(receiver.url.rstrip("/"), other.url.rstrip("/")), body).status_code == 200
    report = second.confirm_now()
    assert (report.led, report.resumed) == (0, [])  # the first one holds the lease
    assert first.confirm_now().resumed == [ti_key(dag_run, "batch")]
    # The first API server is killed (its lease is never given back): the second takes over when it expires.
    assert post(*vendor_callback(emulator, single)).status_code == 200
    assert second.confirm_now().led == 0
    claims_here.clock = lambda: time.time() + LEASE_SECONDS + 1
    assert second.confirm_now().resumed == [ti_key(dag_run, "single")]


@pytest.fixture(params=["file", "redis"])
def any_claims_store(request, tmp_path):
    from airflow_provider_vidgen.plugins.claims import FileClaims, RedisClaims

    if request.param == "file":
        yield FileClaims(tmp_path)
        return
    url = request.getfixturevalue("redis_url")
    yield RedisClaims(pace.RedisSlots(url).client)


def test_claims_stores_keep_their_bounds_and_one_lease(any_claims_store, monkeypatch):
    from airflow_provider_vidgen.plugins.claims import Claim

    monkeypatch.setattr(claims_module, "MAX_CLAIMS_PER_TASK_INSTANCE", 5)
    store = any_claims_store

    def claim(item: int, task_id: str) -> Claim:
        return Claim("acedata_default", "acedata", "hailuo", "dag", "run", "batch", -1, item, task_id, 1.0)

    kept = [store.record(claim(0, f"id-{n}")) for n in range(MAX_CLAIMS_PER_TICKET + 1)]
    assert kept == [True] * MAX_CLAIMS_PER_TICKET + [False]  # claims per ticket
    assert store.record(claim(0, "id-0"))  # a duplicate replaces its own record
    assert [store.record(claim(item, "x")) for item in (1, 2, 3)] == [True, True, False]  # per task instance
    assert len(store.pending()) == 5
    store.update(claim(0, "id-0").backed_off(10.0))
    assert {c.attempts for c in store.pending() if c.vendor_task_id == "id-0"} == {1}
    store.remove([claim(0, "id-0")])
    assert store.record(claim(3, "x"))  # room again
    store.remove(store.pending())
    assert store.pending() == []
    assert store.lead("a", 30) and store.lead("a", 30) and not store.lead("b", 30)
    store.step_down("a")
    assert store.lead("b", 30) and not store.lead("a", 30)


def test_claims_per_ticket_stay_bounded_when_callbacks_for_one_ticket_come_at_once(any_claims_store):
    """Many API server threads or processes recording claims under one ticket together: still at most the
    bound (the file store checks and writes under a lock shared by every process of the machine)."""
    from airflow_provider_vidgen.plugins.claims import Claim

    store, writers = any_claims_store, 24

    def record(run_id: str, n: int, start: threading.Barrier, kept: list[bool]) -> None:
        claim = Claim("acedata_default", "acedata", "hailuo", "dag", run_id, "batch", -1, 0, f"id-{n}", 1.0)
        start.wait()  # every writer counts and writes at the same moment
        kept.append(store.record(claim))

    for round_ in range(5):
        start, kept = threading.Barrier(writers), []
        threads = [threading.Thread(target=record, args=(f"run-{round_}", n, start, kept)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert kept.count(True) == MAX_CLAIMS_PER_TICKET, round_
        assert len([c for c in store.pending() if c.run_id == f"run-{round_}"]) == MAX_CLAIMS_PER_TICKET


def test_a_body_whose_numbers_overflow_is_answered_without_an_error(owner, emulator, caplog):
    """A ticket holder's body with a 400-digit progress (float division overflows in the vendor's reader)."""
    _, xcoms = owner
    url, _ = vendor_callback(emulator, xcoms[("single", -1, "vendor_task_id")])
    body = '{"task_id": "x", "state": "succeeded", "progress": 1' + "0" * 400 + "}"
    answer = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert answer.status_code < 300 and "Traceback" not in caplog.text


def test_while_redis_is_down_claims_go_to_this_machines_files_and_redis_is_tried_again_later(
    owner, emulator, monkeypatch, receiver, claims_here
):
    import socket

    from airflow_provider_vidgen.plugins import callbacks

    _, xcoms = owner
    ids = xcoms[("batch", -1, "vendor_task_id")]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, TOKEN, callback_base_url=receiver.url,
                   shared_pace=closed)  # fmt: skip
    clock = MovedClock()
    monkeypatch.setattr(callbacks, "clock", clock)
    monkeypatch.setattr(callbacks, "_store_down_until", {})
    tried: list[str] = []
    real = callbacks.claims_for
    monkeypatch.setattr(callbacks, "claims_for", lambda shared_pace: tried.append(shared_pace) or real(shared_pace))
    emulator.advance(5)
    calls = [vendor_callback(emulator, task_id) for task_id in ids]
    assert [post(*call).json()["effect"] for call in calls] == ["recorded"] * 3
    assert tried.count(closed) == 1  # the first callback found it down; the others went straight to the files
    assert sorted(claim.vendor_task_id for claim in claims_here.pending()) == sorted(ids)
    clock.now += callbacks.STORE_RETRY_SECONDS
    assert post(*calls[0]).json()["effect"] == "recorded" and tried.count(closed) == 2
