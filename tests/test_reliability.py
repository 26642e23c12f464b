"""Issue 5: no paid generation lost or paid twice, through API faults, retries, restarts, kills and bad input.

Layers: the sans-IO retry flow (scripted outcomes, no I/O), the hooks and the trigger against the
emulator over HTTP (fault injection), and the operators under real Airflow (``dag.test()``), where
retries, ``task_state_store`` and deferral are Airflow's own.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from typing import Any

import pytest
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow_compat import AIRFLOW_3_3_PLUS, serde
from conftest import TOKEN, set_connection
from dags import reliability_dags
from test_validation import CATALOGUE

from airflow_provider_vidgen.core.errors import AmbiguousSubmissionError, ApiError, InvalidInputError
from airflow_provider_vidgen.core.flows import submit_flow
from airflow_provider_vidgen.core.ledger import PREFIX, ItemRecord, parse_record
from airflow_provider_vidgen.core.submission import prepare
from airflow_provider_vidgen.core.transport import (
    HttpResponse,
    RetryPolicy,
    Sleep,
    TransportFailure,
    call,
)
from airflow_provider_vidgen.core.vendor import Vendor
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.base import hook_class
from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator
from airflow_provider_vidgen.triggers.poller import SharedPoller, shared_poller
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger
from airflow_provider_vidgen.triggers.video import next_event as first_event
from airflow_provider_vidgen.vendors.acedata import ACEDATA
from airflow_provider_vidgen.vendors.hidream import HIDREAM

FAST_POLL_RETRY = RetryPolicy(max_attempts=3, base_delay=0.02, max_delay=0.1)
FAST_SUBMIT_RETRY = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.1)
HEALTHY = dict(
    queued_seconds=0.2, running_seconds=0.3, fail_429_rate=0, fail_500_rate=0, fail_502_rate=0, drop_rate=0,
    ambiguous_submit_rate=0, latency=0, rate_limit=0,
)  # fmt: skip


@pytest.fixture
def emu(emulator, monkeypatch):
    """The emulator, plus an ``http`` connection to it, a fresh seed, and settings restored afterwards."""
    set_connection(monkeypatch, "plain_http", "http", emulator.url, TOKEN)
    emulator.configure(seed=5, retry_after=None)
    yield emulator
    emulator.configure(**HEALTHY, seed=0, retry_after=None)


@pytest.fixture
def fast_polls(monkeypatch):
    """Shorter poll backoff (same policy, smaller numbers) so giving up takes milliseconds, not seconds."""
    defaults = SharedPoller.__init__.__kwdefaults__ or {}
    assert "retry" in defaults, "SharedPoller(hook, *, retry=...) changed: update this fixture"
    monkeypatch.setitem(defaults, "retry", FAST_POLL_RETRY)


def total_requests(emulator) -> int:
    return sum(emulator.stats()["counts"].values())


def run_dag(dag, **kwargs):
    dag_run = dag.test(**kwargs)
    return (dag_run, *read_run(dag_run))


def read_run(dag_run):
    """(task instance states, XComs) of a DAG run, from the metadata DB."""
    with create_session() as session:
        states = {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances(session=session)}
        xcoms = {
            (x.task_id, x.map_index, x.key): XComModel.deserialize_value(x)
            for x in session.query(XComModel).filter(
                XComModel.run_id == dag_run.run_id, XComModel.dag_id == dag_run.dag_id
            )
        }
    return states, xcoms


def logs(caplog, capfd) -> str:
    return caplog.text + capfd.readouterr().out  # dag.test() sends task logs to stdout


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# ------------------------------------------------------------------------------------------------
# The sans-IO retry flow: what is resent, how long it waits
# ------------------------------------------------------------------------------------------------


def ace_error(status: int, code: str, headers: dict[str, str] | None = None) -> HttpResponse:
    body = {"success": False, "error": {"code": code, "message": code}, "trace_id": "t"}
    return HttpResponse(status, json.dumps(body).encode(), headers or {})


def hidream_error(status: int, code: int) -> HttpResponse:
    return HttpResponse(status, json.dumps({"code": code, "message": "m", "request_id": "r"}).encode())


HTML_502 = HttpResponse(502, b"<html><body>502 Bad Gateway</body></html>", {"content-type": "text/html"})


def drive(flow, outcomes: list[Any]) -> tuple[Any, int, list[float]]:
    """Feed scripted outcomes to a flow; return (value or raised error, requests sent, sleeps)."""
    sent, sleeps, replies = 0, [], iter(outcomes)
    try:
        step = next(flow)
        while True:
            if isinstance(step, Sleep):
                sleeps.append(step.seconds)
                step = flow.send(None)
            else:
                sent += 1
                step = flow.send(next(replies))
    except StopIteration as stop:
        return stop.value, sent, sleeps
    except ApiError as err:
        return err, sent, sleeps


def test_backoff_is_capped_exponential_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=8.0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered: triggers that failed together do not retry together
    assert policy.delay(1, retry_after=7.0) == 7.0  # the server's Retry-After wins over our backoff
    assert policy.delay(1, retry_after=3600) == 32.0  # within reason


@pytest.mark.parametrize(
    ("vendor", "service"), [(ACEDATA, "hailuo"), (HIDREAM, "txt2video")], ids=["acedata", "hidream"]
)
def test_polls_retry_every_transient_failure(vendor: Vendor, service: str):
    spec = vendor.service(service)
    request = vendor.batch_request(spec, ["t1"])
    ok_body = {"items": [], "count": 0} if vendor is ACEDATA else {"code": 0, "message": "ok", "result": []}
    transient = [
        TransportFailure("connect", "ConnectError: refused"),
        TransportFailure("timeout_after_send", "ReadTimeout"),
        ace_error(429, "too_many_requests", {"Retry-After": "3"}),
        ace_error(500, "api_error") if vendor is ACEDATA else hidream_error(500, 500),
        HTML_502,
        HttpResponse(503, b""),
        HttpResponse(504, b"upstream timed out"),
        HttpResponse(200, b"<html>maintenance</html>"),  # a non-JSON answer
    ]
    flow = call(request, lambda o: vendor.decode(o, request), RetryPolicy(max_attempts=9, base_delay=0.5))
    value, sent, sleeps = drive(flow, [*transient, HttpResponse(200, json.dumps(ok_body).encode())])
    assert not isinstance(value, Exception), value
    assert sent == 9 and len(sleeps) == 8
    assert sleeps[2] == 3.0  # Retry-After of the 429


SUBMIT_CASES = {
    # outcome -> resent? (only when the failed attempt provably created nothing)
    "connection refused": (TransportFailure("connect", "ConnectError"), True),
    "connect timeout": (TransportFailure("timeout_before_send", "ConnectTimeout"), True),
    "429 envelope": (ace_error(429, "too_many_requests"), True),
    "500 envelope": (ace_error(500, "api_error"), True),
    "read timeout after send": (TransportFailure("timeout_after_send", "ReadTimeout"), False),
    "connection dropped": (TransportFailure("timeout_after_send", "RemoteProtocolError"), False),
    "bare 502 from a proxy": (HTML_502, False),
    "bare 503": (HttpResponse(503, b""), False),
    "200 but not JSON": (HttpResponse(200, b"<html>"), False),
    "unknown transport error": (TransportFailure("other", "DecodingError"), False),
}


@pytest.mark.parametrize("case", SUBMIT_CASES)
def test_submission_is_resent_only_when_nothing_was_created(case):
    outcome, resent = SUBMIT_CASES[case]
    request = prepare(ACEDATA, "hailuo", {"prompt": "a boat"}).request
    accepted = HttpResponse(200, json.dumps({"task_id": "t-1"}).encode())
    value, sent, _ = drive(
        submit_flow(ACEDATA, request, RetryPolicy(max_attempts=4, base_delay=0)), [outcome, accepted]
    )
    if resent:
        assert (value, sent) == ("t-1", 2)
    else:
        assert sent == 1 and isinstance(value, AmbiguousSubmissionError), value
        text = str(value)
        assert "not resent" in text and "console" in text and "VideoTaskSensor" in text  # says how to find out


def test_hidream_submission_resent_only_when_nothing_was_created():
    request = prepare(HIDREAM, "txt2video", {"prompt": "a fish"}).request
    accepted = HttpResponse(200, json.dumps({"code": 0, "message": "ok", "result": {"task_id": "h-1"}}).encode())
    policy = RetryPolicy(max_attempts=4, base_delay=0)
    assert drive(submit_flow(HIDREAM, request, policy), [hidream_error(500, 500), accepted])[:2] == ("h-1", 2)
    assert drive(submit_flow(HIDREAM, request, policy), [hidream_error(429, 429), accepted])[:2] == ("h-1", 2)
    value, sent, _ = drive(submit_flow(HIDREAM, request, policy), [HTML_502, accepted])
    assert sent == 1 and isinstance(value, AmbiguousSubmissionError)
    value, sent, _ = drive(submit_flow(HIDREAM, request, policy), [hidream_error(200, 2031), accepted])
    assert sent == 1 and type(value) is ApiError and value.nothing_created  # refused by HiDream: nothing to pay


# ------------------------------------------------------------------------------------------------
# Hooks against the emulator over HTTP
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["fail_429_rate", "fail_500_rate"])
def test_nothing_created_faults_are_retried_over_http(emu, fault):
    hook = AceDataHook(retry=FAST_SUBMIT_RETRY)
    emu.configure(**{fault: 1.0})
    with pytest.raises(ApiError) as caught:
        hook.submit("hailuo", {"prompt": "a boat"})
    assert caught.value.nothing_created and not isinstance(caught.value, AmbiguousSubmissionError)
    assert emu.stats()["counts"]["submit"] == 4 and emu.stats()["tasks"] == 0  # retried, nothing paid
    emu.configure(**{fault: 0.5})  # seeded: some attempts fail, one gets through
    task_id = hook.submit("hailuo", {"prompt": "a boat"})
    assert emu.stats()["tasks"] == 1 and task_id in emu.state.tasks


def test_connection_refused_is_retried_and_creates_nothing(emu, monkeypatch):
    set_connection(monkeypatch, "nowhere", "acedata", "http://127.0.0.1:9", TOKEN)  # port 9: discard, closed
    with pytest.raises(ApiError) as caught:
        AceDataHook("nowhere", retry=FAST_SUBMIT_RETRY).submit("hailuo", {"prompt": "a boat"})
    assert caught.value.code == "connect" and caught.value.nothing_created


@pytest.mark.parametrize(
    ("setting", "created"),
    [("ambiguous_submit_rate", 1), ("drop_rate", 0), ("fail_502_rate", 0)],
    ids=["created-then-dropped", "dropped", "html-502"],
)
def test_ambiguous_submission_is_not_resent(emu, setting, created):
    """The client cannot tell these apart; none is resent, and the error says how to find out."""
    emu.configure(**{setting: 1.0})
    with pytest.raises(AmbiguousSubmissionError, match=r"not resent.*VideoTaskSensor"):
        AceDataHook(retry=FAST_SUBMIT_RETRY).submit("hailuo", {"prompt": "a boat"})
    stats = emu.stats()
    assert stats["counts"]["submit"] == 1 and stats["tasks"] == created


def test_read_timeout_after_send_is_ambiguous_for_submit_and_retried_for_polls(emu, monkeypatch):
    set_connection(monkeypatch, "impatient", "acedata", emu.url, TOKEN, request_timeout=0.15)
    hook = AceDataHook("impatient", retry=FAST_SUBMIT_RETRY)
    emu.configure(latency=0.4)
    with pytest.raises(AmbiguousSubmissionError, match="ReadTimeout"):
        hook.submit("hailuo", {"prompt": "a boat"})
    with pytest.raises(ApiError, match="ReadTimeout") as caught:
        hook.retrieve_many("hailuo", ["t-1"])
    assert caught.value.retryable
    time.sleep(0.4)
    stats = emu.stats()
    assert stats["counts"]["submit"] == 1 and stats["counts"]["retrieve_batch"] == 4
    assert stats["tasks"] == 1  # the server did create it after the client gave up: why it is ambiguous


# ------------------------------------------------------------------------------------------------
# The trigger: tolerated poll failures, giving up, restart, timeout, kill, bad connection
# ------------------------------------------------------------------------------------------------


async def test_trigger_gives_up_after_max_poll_failures_naming_every_id_and_last_state(emu, fast_polls):
    emu.configure(queued_seconds=0, running_seconds=30)
    hook = AceDataHook()
    ids = [hook.submit("hailuo", {"prompt": f"boat {n}"}) for n in range(3)]
    trigger = VideoTaskTrigger("acedata_default", "hailuo", ids, poll_interval=0.05, max_poll_failures=2)
    waiting = asyncio.create_task(first_event(trigger))
    await until(lambda: emu.stats()["ids_polled"] >= 3)  # one good poll: every task is known to run
    emu.configure(drop_rate=1.0)
    event = await asyncio.wait_for(waiting, 10)
    assert event["status"] == "error" and "gave up after 2 failure(s)" in event["message"]
    assert event["task_ids"] == ids
    assert [(r["task_id"], r["state"]) for r in event["results"]] == [(i, "running") for i in ids]
    # 2 failed polls of 3 attempts each, then it stopped; it never submits
    assert emu.stats()["counts"]["fault"] == 6 and emu.stats()["counts"]["submit"] == 3


async def test_trigger_tolerates_failures_below_the_limit(emu, fast_polls):
    hook = AceDataHook()
    ids = [hook.submit("hailuo", {"prompt": f"boat {n}"}) for n in range(3)]
    emu.configure(fail_429_rate=0.2, fail_500_rate=0.2, fail_502_rate=0.2, drop_rate=0.2, retry_after=0)
    event = await first_event(VideoTaskTrigger("acedata_default", "hailuo", ids, poll_interval=0.05))
    assert event["status"] == "success", event["message"]
    assert [r["state"] for r in event["results"]] == ["succeeded"] * 3
    assert emu.stats()["counts"]["fault"] > 0


async def test_fatal_poll_error_gives_up_at_once(emu, monkeypatch):
    set_connection(monkeypatch, "bad_token", "acedata", emu.url, "not-the-token")
    event = await first_event(VideoTaskTrigger("bad_token", "hailuo", ["t-1", "t-2"], poll_interval=0.05))
    assert event["status"] == "error" and "invalid_token" in event["message"]
    assert [r["task_id"] for r in event["results"]] == ["t-1", "t-2"]
    assert emu.stats()["counts"]["retrieve_batch"] == 1  # a 401 is not retried


def test_triggerer_restart_resumes_the_same_ids(emu):
    """Cancel a trigger mid-wait (triggerer stops), rebuild it from its serialized kwargs in a new loop."""
    emu.configure(queued_seconds=0.3, running_seconds=0.5)
    hook = AceDataHook()
    ids = [hook.submit("hailuo", {"prompt": f"boat {n}"}) for n in range(3)]
    original = VideoTaskTrigger("acedata_default", "hailuo", ids, poll_interval=0.1, end_time=time.time() + 60)

    async def first_triggerer() -> None:
        waiting = asyncio.create_task(first_event(original))
        await until(lambda: emu.stats()["ids_polled"] >= 3)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        poller = await shared_poller("acedata_default")
        assert not poller.subscriptions  # the cancelled trigger left nothing behind

    asyncio.run(first_triggerer())
    classpath, kwargs = original.serialize()
    stored = json.loads(json.dumps(serde.serialize(kwargs)))  # what the metadata DB keeps
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**serde.deserialize(stored))
    assert rebuilt.task_ids == ids and rebuilt.end_time == original.end_time  # same ids, same absolute deadline
    event = asyncio.run(first_event(rebuilt))
    assert event["status"] == "success" and event["task_ids"] == ids
    assert all(r["state"] == "succeeded" and r["task_id"] in r["videos"][0]["url"] for r in event["results"])
    stats = emu.stats()
    assert stats["counts"]["submit"] == 3 and stats["tasks"] == 3  # polling resumed; nothing resubmitted


async def test_timeout_event_lists_the_still_running_ids(emu):
    hook = AceDataHook()
    emu.configure(queued_seconds=0, running_seconds=0)
    done = hook.submit("hailuo", {"prompt": "quick [fail]"})  # over (failed) before the deadline
    emu.configure(queued_seconds=0, running_seconds=30)  # timings are fixed per task at submission
    slow = [hook.submit("hailuo", {"prompt": f"slow {n}"}) for n in range(2)]
    trigger = VideoTaskTrigger(
        "acedata_default", "hailuo", [done, *slow], poll_interval=0.05, end_time=time.time() + 0.4
    )
    event = await first_event(trigger)
    assert event["status"] == "timeout"
    assert "2 task(s) still running" in event["message"] and all(task_id in event["message"] for task_id in slow)
    assert done not in event["message"] and "VideoTaskSensor" in event["message"]
    assert {r["task_id"]: r["state"] for r in event["results"]} == {
        done: "failed",
        slow[0]: "running",
        slow[1]: "running",
    }


async def test_trigger_on_kill_is_safe_and_idempotent(emu, caplog):
    emu.configure(queued_seconds=0, running_seconds=30)
    hook = AceDataHook()
    ids = [hook.submit("hailuo", {"prompt": f"boat {n}"}) for n in range(2)]
    trigger = VideoTaskTrigger("acedata_default", "hailuo", ids, poll_interval=0.05)
    waiting = asyncio.create_task(first_event(trigger))
    await until(lambda: emu.stats()["counts"]["retrieve_batch"] >= 1)
    with caplog.at_level(logging.WARNING):
        await trigger.on_kill()  # Airflow calls it, then cancels the trigger
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await trigger.on_kill()  # a second call (or one after the end) is harmless
    assert caplog.text.count("cannot cancel hailuo tasks, so these generations go on") == 2
    assert ", ".join(ids) in caplog.text
    assert emu.stats()["counts"]["submit"] == 2  # it only logs: Hailuo has no cancel call


async def test_unknown_connection_type_fails_the_trigger_before_any_request(emu):
    event = await first_event(VideoTaskTrigger("plain_http", "hailuo", ["t-1"], poll_interval=0.05))
    assert event["status"] == "error" and "connection 'plain_http': connection type 'http' is not" in event["message"]
    assert event["results"][0]["task_id"] == "t-1"
    assert total_requests(emu) == 0


# ------------------------------------------------------------------------------------------------
# Operators: reattach instead of paying twice (unit level, then real Airflow retries)
# ------------------------------------------------------------------------------------------------


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


class FakeStore(dict):
    """The part of Airflow's task_state_store the operator uses."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)

    def records(self) -> list[ItemRecord]:
        """The submission ledger's item records (core.ledger), in the order they were first written."""
        return [parse_record(value) for key, value in self.items() if key.startswith(PREFIX + "/")]  # type: ignore[misc]

    def record(self) -> ItemRecord | None:
        """The one item's record of a single operator's ledger (None when there is none)."""
        found = [record for record in self.records() if record is not None]
        assert len(found) <= 1, found
        return found[0] if found else None


def operator(**kwargs: Any) -> HailuoVideoOperator:
    return HailuoVideoOperator(
        task_id="gen", prompt=kwargs.pop("prompt", "a kite"), wait_for_completion=False, **kwargs
    )


def test_reattach_rules_with_a_task_state_store(emu):
    store = FakeStore()
    first = operator().execute({"ti": FakeTI(), "task_state_store": store})
    assert store.record().task_id == first["task_id"]
    again = operator().execute({"ti": FakeTI(), "task_state_store": store})  # still running: reattach
    assert again["task_id"] == first["task_id"]
    time.sleep(0.6)
    done = operator().execute({"ti": FakeTI(), "task_state_store": store})  # succeeded: returned as is
    assert done["task_id"] == first["task_id"] and done["state"] == "succeeded"
    assert emu.stats()["tasks"] == 1
    changed = operator(prompt="a kite at dusk").execute({"ti": FakeTI(), "task_state_store": store})
    assert changed["task_id"] != first["task_id"]
    assert changed["task_id"] in {record.task_id for record in store.records() if record}
    fresh = operator(prompt="a kite at dusk", reattach=False).execute({"ti": FakeTI(), "task_state_store": store})
    assert fresh["task_id"] != changed["task_id"]
    assert emu.stats()["tasks"] == 3


def test_without_task_state_store_every_try_submits(emu, caplog, capfd):
    """Airflow < 3.3 has no task_state_store: the operator still works; each try is a new generation."""
    ids = {operator().execute({"ti": FakeTI()})["task_id"] for _ in range(2)}
    assert len(ids) == 2 and emu.stats()["tasks"] == 2
    assert "No task_state_store" in logs(caplog, capfd)


def test_operator_on_kill_is_safe_and_idempotent(emu, caplog, capfd):
    op = operator()
    op.on_kill()  # nothing submitted yet
    result = op.execute({"ti": FakeTI(), "task_state_store": FakeStore()})
    op.on_kill()
    op.on_kill()
    text = logs(caplog, capfd)
    assert "nothing keeps running" in text
    assert text.count(f"task {result['task_id']} keeps running on the vendor side") == 2
    assert emu.stats()["counts"]["submit"] == 1


needs_task_state_store = pytest.mark.skipif(
    not AIRFLOW_3_3_PLUS, reason="reattach on retry needs Airflow's task_state_store (3.3+)"
)


@needs_task_state_store
@pytest.mark.parametrize(
    ("earlier_state", "running_seconds"), [("succeeded", 0.05), ("running", reliability_dags.RENDERS_FOR_AN_HOUR)]
)
def test_retry_after_the_trigger_gave_up_reattaches(
    airflow_db, emu, fast_polls, caplog, capfd, earlier_state, running_seconds
):
    """Try 1's trigger gives up (every poll dropped); try 2 finds the generation and waits for it or returns it."""
    emu.configure(queued_seconds=0, running_seconds=running_seconds)
    dag_run, _, xcoms = run_dag(reliability_dags.reattach_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.SUCCESS, text[-3000:]
    result = xcoms[("gen", -1, "return_value")]
    assert result["state"] == "succeeded" and result["videos"][0]["url"].endswith(f"{result['task_id']}.mp4")
    assert "polling gave up after 1 failure(s)" in text  # try 1 really failed
    assert f"Reattaching to {result['task_id']} instead of submitting again ({earlier_state})" in text
    stats = emu.stats()
    assert stats["counts"]["submit"] == 1 and stats["tasks"] == 1  # paid once


@pytest.mark.parametrize(
    "dag",
    [reliability_dags.changed_inputs_dag, reliability_dags.no_reattach_dag],
    ids=["changed-inputs", "no-reattach"],
)
def test_retry_with_changed_inputs_or_reattach_off_submits_again(airflow_db, emu, fast_polls, caplog, capfd, dag):
    dag_run, _, xcoms = run_dag(dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.SUCCESS, text[-3000:]
    assert "Reattaching" not in text and "polling gave up" in text
    assert emu.stats()["tasks"] == 2 and xcoms[("gen", -1, "return_value")]["state"] == "succeeded"


@pytest.mark.skipif(AIRFLOW_3_3_PLUS, reason="Airflow 3.3+ has task_state_store: the retry reattaches")
def test_before_airflow_3_3_a_retry_submits_again_and_says_so(airflow_db, emu, fast_polls, caplog, capfd):
    emu.configure(queued_seconds=0, running_seconds=0.05)
    dag_run, _, xcoms = run_dag(reliability_dags.reattach_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.SUCCESS, text[-3000:]
    assert "polling gave up after 1 failure(s)" in text and "Reattaching" not in text
    assert "No task_state_store (Airflow < 3.3): a retry of this task submits a new generation" in text
    assert emu.stats()["tasks"] == 2 and xcoms[("gen", -1, "return_value")]["state"] == "succeeded"


@needs_task_state_store
def test_failed_generation_is_the_one_thing_a_retry_resubmits(airflow_db, emu, caplog, capfd):
    dag_run, _, _ = run_dag(reliability_dags.failed_resubmits_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED
    assert "failed (api_error: generation failed upstream (emulated [fail]))); submitting a new one" in text
    assert emu.stats()["tasks"] == 2


@pytest.mark.parametrize("setting", ["ambiguous_submit_rate", "fail_502_rate"])
def test_ambiguous_submission_fails_the_task_without_retry(airflow_db, emu, caplog, capfd, setting):
    emu.configure(**{setting: 1.0})
    _, states, _ = run_dag(reliability_dags.ambiguous_dag)
    text = logs(caplog, capfd)
    assert states[("gen", -1)] == TaskInstanceState.FAILED  # not up_for_retry although retries=1
    assert "AirflowFailException" in text and "not retried to avoid a duplicate charge" in text
    assert "may or may not have created a paid task" in text
    stats = emu.stats()
    assert stats["counts"]["submit"] == 1  # one try, one attempt
    assert stats["tasks"] == (1 if setting == "ambiguous_submit_rate" else 0)


def test_timeout_fails_the_task_naming_running_ids_which_the_sensor_collects_later(airflow_db, emu, caplog, capfd):
    emu.configure(queued_seconds=0.2, running_seconds=1.5)
    dag_run, _, xcoms = run_dag(reliability_dags.timeout_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED
    task_id = xcoms[("gen", -1, "vendor_task_id")]
    assert f"timeout: deadline passed with 1 task(s) still running on the vendor side: {task_id}" in text
    dag_run, _, xcoms = run_dag(reliability_dags.collect_dag, run_conf={"task_ids": [task_id]})
    assert dag_run.state == DagRunState.SUCCESS
    (collected,) = xcoms[("collect", -1, "return_value")]
    assert collected["task_id"] == task_id and collected["state"] == "succeeded"
    assert emu.stats()["counts"]["submit"] == 1


# ------------------------------------------------------------------------------------------------
# Bad input: zero requests
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("vendor", "service", "body", "field", "words"), CATALOGUE)
def test_bad_input_sends_zero_requests(emu, vendor, service, body, field, words):
    hook = hook_class(vendor)()
    with pytest.raises(InvalidInputError) as caught:
        hook.submit(service, body)
    assert caught.value.field == field
    with pytest.raises(InvalidInputError):
        asyncio.run(hook.asubmit(service, body))
    assert total_requests(emu) == 0


def test_bad_input_through_operators_sends_zero_requests(airflow_db, emu, caplog, capfd):
    dag_run, states, xcoms = run_dag(reliability_dags.bad_input_dag)
    text = logs(caplog, capfd)
    assert dag_run.state == DagRunState.FAILED
    given = {"ace_bad", "hidream_bad", "bad_seconds_given"}  # the upstream tasks that hand the mapped values over
    assert {states.pop((task_id, -1)) for task_id in given} == {TaskInstanceState.SUCCESS}
    assert len(states) == len(reliability_dags.ACE_BAD) + len(reliability_dags.HIDREAM_BAD) + 5
    assert set(states.values()) == {TaskInstanceState.FAILED}, states
    assert not [key for key in xcoms if key[2] == "vendor_task_id"]
    for expected in [
        "first_image_url: is required for model minimax-i2v",
        "unknown Ace Data Cloud service 'tiktok'",
        "motion_strength",
        "timeout: must be a positive number of seconds",
        "poll_interval: must be a positive number of seconds",
    ]:
        assert expected in text
    # the operator and both sensors with a connection of type http
    assert text.count("connection 'plain_http': connection type 'http' is not a video vendor") >= 3
    assert total_requests(emu) == 0
