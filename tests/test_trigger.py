"""VideoTaskTrigger as Airflow drives it: stepped with ``__anext__``, rebuilt from its serialized
form (triggerer restart), run in a fresh event loop per trigger (``dag.test()``), and the contents
of its one event for success, timeout and error."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from airflow.sdk.module_loading import import_string
from airflow_compat import serde
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.triggers.poller import pollers_in_loop
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger

EVENT_KEYS = {"status", "conn_id", "service", "task_ids", "results", "message", "via"}
KWARG_KEYS = {
    "conn_id",
    "service",
    "task_ids",
    "poll_interval",
    "end_time",
    "max_poll_failures",
    "shared_polling",
    "heartbeat_interval",
    "callbacks",
    "unknown_deadline",
}


def submit(prompts: list[str], service: str = "hailuo") -> list[str]:
    hook = AceDataHook()
    try:
        return [hook.submit(service, {"prompt": prompt}) for prompt in prompts]
    finally:
        hook.close()


def make(task_ids: list[str], **kwargs: Any) -> VideoTaskTrigger:
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("end_time", time.time() + 30)
    return VideoTaskTrigger(
        kwargs.pop("conn_id", "acedata_default"), kwargs.pop("service", "hailuo"), task_ids, **kwargs
    )


async def test_stepped_like_the_triggerer_it_fires_one_success_event(emulator):
    ids = submit(["boat 1", "boat 2 [slow]"])
    trigger = make(ids)
    run = trigger.run()
    event = await run.__anext__()

    payload = event.payload
    assert set(payload) == EVENT_KEYS
    assert payload["status"] == "success" and payload["message"] == "every task reached a final state"
    assert (payload["conn_id"], payload["service"], payload["task_ids"]) == ("acedata_default", "hailuo", ids)
    assert [(r["task_id"], r["state"], r["vendor"]) for r in payload["results"]] == [
        (ids[0], "succeeded", "acedata"),
        (ids[1], "succeeded", "acedata"),
    ]
    assert [r["videos"][0]["url"] for r in payload["results"]] == [f"{emulator.url}/files/{i}.mp4" for i in ids]
    json.dumps(payload)  # events are persisted: plain JSON only
    with pytest.raises(StopAsyncIteration):
        await run.__anext__()  # exactly one event
    assert pollers_in_loop() == {}  # it left its poller before the event went out


async def test_a_failed_generation_is_reported_not_raised(emulator):
    (task_id,) = submit(["boat [fail]"])
    payload = (await make([task_id]).run().__anext__()).payload
    assert payload["status"] == "success"  # the wait succeeded; the operator decides what a failure means
    (result,) = payload["results"]
    assert result["state"] == "failed" and result["error"]["code"] and result["videos"] == []


def test_serialize_round_trip_rebuilds_a_working_trigger(emulator):
    """The triggerer-restart case: only classpath and kwargs survive, through the metadata DB."""
    ids = submit(["boat 1", "boat 2"])
    original = make(ids, poll_interval=0.2, max_poll_failures=7)
    classpath, kwargs = original.serialize()

    assert classpath == "airflow_provider_vidgen.triggers.video.VideoTaskTrigger"
    assert set(kwargs) == KWARG_KEYS
    stored = json.dumps(serde.serialize(kwargs))  # what the worker sends and the DB keeps
    assert TOKEN not in stored and "password" not in stored and "authorization" not in stored.lower()

    rebuilt = import_string(classpath)(**serde.deserialize(json.loads(stored)))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.end_time == original.end_time  # an absolute deadline: a restart does not extend it
    payload = asyncio.run(rebuilt.run().__anext__()).payload
    assert payload["status"] == "success" and payload["task_ids"] == ids
    assert emulator.stats()["counts"]["submit"] == 2  # waiting never submits


def test_every_run_in_a_fresh_event_loop_works_like_dag_test(emulator):
    """dag.test() runs each trigger with ``asyncio.run(anext(trigger.run()))``, one new loop each."""
    ids = submit(["boat 1", "boat 2", "boat 3"])
    events = [asyncio.run(anext(make([task_id]).run())).payload for task_id in ids]
    assert [(e["status"], e["results"][0]["state"]) for e in events] == [("success", "succeeded")] * 3
    counts = emulator.stats()["counts"]
    assert counts["retrieve"] == 0 and counts["retrieve_batch"] >= 3


async def test_without_sharing_a_trigger_polls_alone(emulator):
    ids = submit(["boat 1", "boat 2"])
    trigger = make(ids, shared_polling=False)
    waiting = asyncio.ensure_future(trigger.run().__anext__())
    await asyncio.sleep(0.05)
    assert pollers_in_loop() == {}  # a private poller is never registered for others to join
    payload = (await waiting).payload
    assert payload["status"] == "success" and [r["state"] for r in payload["results"]] == ["succeeded"] * 2


async def test_a_deadline_already_passed_times_out_without_a_request(emulator):
    trigger = make(["t-1", "t-2"], end_time=time.time() - 1)
    payload = (await trigger.run().__anext__()).payload
    assert payload["status"] == "timeout"
    assert [(r["task_id"], r["state"]) for r in payload["results"]] == [("t-1", "pending"), ("t-2", "pending")]
    assert "2 task(s) still running" in payload["message"] and "t-1, t-2" in payload["message"]
    assert emulator.stats()["counts"]["retrieve_batch"] == 0


async def test_timeout_event_lists_what_still_runs(emulator):
    (done,) = submit(["quick"])
    emulator.configure(queued_seconds=0, running_seconds=30)  # timings are fixed per task at submission
    (slow,) = submit(["slow"])
    payload = (await make([done, slow], end_time=time.time() + 1.0).run().__anext__()).payload

    assert set(payload) == EVENT_KEYS and payload["status"] == "timeout"
    assert {r["task_id"]: r["state"] for r in payload["results"]} == {done: "succeeded", slow: "running"}
    assert "1 task(s) still running" in payload["message"] and slow in payload["message"]
    assert done not in payload["message"]


async def test_a_bad_token_is_an_error_event_that_never_shows_the_token(emulator, monkeypatch, caplog):
    secret = "sk-live-WRONG-7d1f0c9a"
    set_connection(monkeypatch, "acedata_wrong", "acedata", emulator.url, secret)
    with caplog.at_level(logging.DEBUG):
        payload = (await make(["t-1"], conn_id="acedata_wrong").run().__anext__()).payload

    assert set(payload) == EVENT_KEYS and payload["status"] == "error"
    assert "invalid_token" in payload["message"] and "gave up after 1 failure" in payload["message"]
    assert payload["results"] == [
        {
            "task_id": "t-1",
            "service": "hailuo",
            "vendor": "acedata",
            "state": "pending",
            "progress": None,
            "videos": [],
            "error": None,
        }
    ]
    assert secret not in json.dumps(payload) and secret not in caplog.text
    assert emulator.stats()["counts"]["rejected_auth"] == 1  # a 401 is not retried


async def test_a_missing_connection_is_an_error_event(emulator):
    payload = (await make(["t-1"], conn_id="no_such_connection").run().__anext__()).payload
    assert payload["status"] == "error" and "no_such_connection" in payload["message"]
    assert payload["results"][0]["state"] == "pending"


def test_bad_arguments_fail_when_the_trigger_is_built():
    with pytest.raises(InvalidInputError, match="task_ids"):
        VideoTaskTrigger("acedata_default", "hailuo", [])
    with pytest.raises(InvalidInputError, match="task_ids"):
        VideoTaskTrigger("acedata_default", "hailuo", ["ok", ""])
    assert VideoTaskTrigger("acedata_default", "hailuo", ["a", "b", "a"]).task_ids == ["a", "b"]


def test_the_wait_event_is_typed_and_round_trips():
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_provider_vidgen.core.results import TaskResult
    from airflow_provider_vidgen.triggers.event import CALLBACK, WaitEvent, received

    result = TaskResult("t1", "hailuo", "acedata", "failed")
    event = WaitEvent("timeout", "acedata_default", "hailuo", ("t1",), (result,), "deadline passed", CALLBACK)
    assert WaitEvent.from_payload(event.to_payload()) == event
    with pytest.raises(AirflowException, match=r"timeout: deadline passed \[acedata hailuo task t1: failed\]"):
        received(event.to_payload()).results_or_raise()
    for bad in (None, {"status": "weird"}, {"status": "success", "results": [{"task_id": "x"}]}, ["success"]):
        with pytest.raises(AirflowException, match="unexpected trigger event"):
            WaitEvent.from_payload(bad)


def test_a_trigger_is_rebuilt_from_its_stored_kwargs():
    trigger = VideoTaskTrigger(conn_id="c", service="hailuo", task_ids=["a", "b"], poll_interval=3, callbacks=True)
    classpath, kwargs = trigger.serialize()
    assert classpath == VideoTaskTrigger.classpath() == "airflow_provider_vidgen.triggers.video.VideoTaskTrigger"
    again = VideoTaskTrigger.from_kwargs(kwargs)
    assert again.serialize() == (classpath, kwargs) and again.task_ids == ["a", "b"]


def test_the_sensors_unknown_grace_is_a_parameter_bounded_by_its_timeout():
    """A sensor whose timeout is shorter than the grace would time out instead of failing as not found."""
    from types import SimpleNamespace

    import pendulum

    from airflow_provider_vidgen.core.errors import InvalidInputError
    from airflow_provider_vidgen.core.results import TaskResult
    from airflow_provider_vidgen.sensors.video import VideoTaskSensor

    sensor = VideoTaskSensor(task_id="wait", task_ids=["x"], service="kling", timeout=20)
    assert sensor.unknown_grace == 10.0
    assert VideoTaskSensor(task_id="w2", task_ids=["x"], service="kling", unknown_grace=60).unknown_grace == 60.0
    unknown = TaskResult("x", "kling", "hidream", "pending", unknown=True)
    started = SimpleNamespace(start_date=pendulum.now("UTC").subtract(seconds=11))
    assert sensor._past_grace(unknown, {"ti": started}).error.code == "not_found"
    fresh = SimpleNamespace(start_date=pendulum.now("UTC").subtract(seconds=5))
    assert sensor._past_grace(unknown, {"ti": fresh}).state == "pending"
    with pytest.raises(InvalidInputError, match="unknown_grace: must be a number of seconds >= 0"):
        VideoTaskSensor(task_id="w3", task_ids=["x"], service="kling", unknown_grace=-1)
