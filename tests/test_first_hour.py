"""A newcomer's mistakes, each walked to its end: the message, the fix it names, and a working task.

Token, host, connection id and destination mistakes; a submission whose outcome is unknown, cleared
by the user as the message says. The operators run against the emulator over real HTTP; Airflow's
task_state_store and task instance stand in as the small fakes the other reliability tests use.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from conftest import TOKEN, set_connection
from test_reliability import FakeStore, logs

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.transport import RetryPolicy
from airflow_provider_vidgen.hooks import base as hook_base
from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.operators.hidream import HiDreamBatchVideoOperator, HiDreamVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

FAST = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)


class TI:
    """A task instance as a try sees it: ``max_tries`` grows only when a user clears the task."""

    def __init__(self, max_tries: int = 0) -> None:
        self.max_tries = max_tries
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def hailuo(conn_id: str = "acedata_default") -> HailuoVideoOperator:
    return HailuoVideoOperator(task_id="gen", prompt="a kite", acedata_conn_id=conn_id, wait_for_completion=False)


def hidream(conn_id: str = "hidream_default") -> HiDreamVideoOperator:
    return HiDreamVideoOperator(task_id="gen", prompt="a kite", hidream_conn_id=conn_id, wait_for_completion=False)


OPERATORS = {"acedata": hailuo, "hidream": hidream}


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(hook_base, "RetryPolicy", lambda: FAST)


@pytest.mark.parametrize("vendor", ["acedata", "hidream"])
def test_a_connection_without_a_token_leaves_nothing_behind_and_the_fixed_task_works(
    emulator, monkeypatch, caplog, capfd, vendor
):
    """Used to fail forever on HiDream ("an earlier try sent a submission"), and warn falsely on Ace Data."""
    make = OPERATORS[vendor]
    set_connection(monkeypatch, f"{vendor}_first", vendor, emulator.url, "")
    store = FakeStore()
    with pytest.raises(AirflowFailException) as caught:
        make(f"{vendor}_first").execute({"ti": TI(), "task_state_store": store})
    text = str(caught.value)
    assert "password: connection" in text and "has no API token" in text
    assert f"AIRFLOW_CONN_{vendor.upper()}_FIRST" in text and "then clear this task" in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # the message alone
    assert store == {} and emulator.stats()["counts"]["submit"] == 0  # nothing recorded, nothing sent

    set_connection(monkeypatch, f"{vendor}_first", vendor, emulator.url, TOKEN)  # the fix ...
    logs(caplog, capfd)
    result = make(f"{vendor}_first").execute({"ti": TI(max_tries=1), "task_state_store": store})  # ... and a clear
    assert result["state"] == "pending" and emulator.stats()["tasks_created"] == 1
    assert "earlier try" not in logs(caplog, capfd)


def test_a_missing_connection_says_how_to_define_it_and_the_defined_one_works(emulator, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ACEDATA_NIGHTLY", raising=False)
    store = FakeStore()
    with pytest.raises(AirflowFailException) as caught:
        hailuo("acedata_nightly").execute({"ti": TI(), "task_state_store": store})
    text = str(caught.value)
    assert "connection 'acedata_nightly' is not defined" in text
    assert "connection type 'acedata' (Ace Data Cloud)" in text
    assert 'AIRFLOW_CONN_ACEDATA_NIGHTLY=\'{"conn_type": "acedata", "password": "<your API token>"}\'' in text
    assert "isn't defined" not in text and store == {}

    set_connection(monkeypatch, "acedata_nightly", "acedata", emulator.url, TOKEN)  # as the message says
    assert hailuo("acedata_nightly").execute({"ti": TI(1), "task_state_store": store})["state"] == "pending"


def test_the_sensor_and_the_trigger_name_both_connection_types_for_a_missing_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_VIDEOS", raising=False)
    sensor = VideoTaskSensor(task_id="wait", task_ids=["t-1"], service="hailuo", conn_id="videos")
    with pytest.raises(AirflowFailException, match="'acedata' \\(Ace Data Cloud\\) or 'hidream' \\(HiDream\\)"):
        sensor.poke({"ti": TI()})


def test_an_unreachable_host_is_retried_leaves_nothing_and_the_fixed_host_works(
    emulator, monkeypatch, fast_retries, caplog, capfd
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    set_connection(monkeypatch, "acedata_host", "acedata", f"http://127.0.0.1:{closed}", TOKEN)
    store = FakeStore()
    with pytest.raises(AirflowException) as caught:
        hailuo("acedata_host").execute({"ti": TI(), "task_state_store": store})
    assert not isinstance(caught.value, AirflowFailException)  # a retry can help (the host may come back)
    assert f"check that http://127.0.0.1:{closed} is reachable" in str(caught.value)
    assert store.record() is None  # refused before anything arrived: nothing to look up

    set_connection(monkeypatch, "acedata_host", "acedata", emulator.url, TOKEN)
    logs(caplog, capfd)
    assert hailuo("acedata_host").execute({"ti": TI(), "task_state_store": store})["state"] == "pending"
    assert "earlier try" not in logs(caplog, capfd)


def test_an_ambiguous_submission_is_submitted_again_after_the_user_clears_the_task(emulator, caplog, capfd):
    """HiDream cannot list tasks: the message says to look in the console and clear the task if there is
    none. An automatic retry must not resend; the clear must (it used to fail again, forever)."""
    emulator.configure(ambiguous_submit_rate=1.0)
    store = FakeStore()
    with pytest.raises(AirflowFailException, match="if there is none, clear this task to submit again"):
        hidream().execute({"ti": TI(max_tries=2), "task_state_store": store})
    emulator.configure(ambiguous_submit_rate=0.0)
    assert emulator.stats()["tasks_created"] == 1

    with pytest.raises(AirflowFailException, match="if there is none, clear this task: the cleared task submits"):
        hidream().execute({"ti": TI(max_tries=2), "task_state_store": store})  # an automatic retry: not resent
    assert emulator.stats()["tasks_created"] == 1

    logs(caplog, capfd)
    result = hidream().execute({"ti": TI(max_tries=4), "task_state_store": store})  # cleared by the user
    assert result["state"] == "pending" and emulator.stats()["tasks_created"] == 2
    assert "was cleared after that was reported, so it submits again" in logs(caplog, capfd)
    assert store.record().task_id == result["task_id"]


def test_a_cleared_batch_submits_its_ambiguous_items_again_and_reattaches_the_rest(emulator):
    def batch() -> HiDreamBatchVideoOperator:
        return HiDreamBatchVideoOperator(
            task_id="batch", prompts=["a", "b"], wait_for_completion=False, fail_on_failed=False
        )

    store = FakeStore()
    emulator.configure(ambiguous_submit_rate=0.5, seed=3)
    first = batch().execute({"ti": TI(), "task_state_store": store})
    emulator.configure(ambiguous_submit_rate=0.0)
    ambiguous = [item for item in first if item["error"] and item["error"]["code"] == "ambiguous_submission"]
    assert ambiguous and len(ambiguous) < 2, "the seed must make exactly one item ambiguous"
    assert "clear this task to submit again" in ambiguous[0]["error"]["message"]
    created = emulator.stats()["tasks_created"]

    again = batch().execute({"ti": TI(), "task_state_store": store})  # automatic retry: nothing resent
    assert emulator.stats()["tasks_created"] == created
    assert [item["task_id"] for item in again] == [item["task_id"] for item in first]

    cleared = batch().execute({"ti": TI(max_tries=1), "task_state_store": store})
    assert emulator.stats()["tasks_created"] == created + 1  # only the ambiguous item
    assert all(item["task_id"] for item in cleared)
    kept = next(item for item in first if item["task_id"])
    assert kept["task_id"] in {item["task_id"] for item in cleared}


@pytest.mark.parametrize("destination", ["videos/{{ run_id }}/", "videos/out/", "out", ""])
def test_a_relative_destination_is_a_dag_import_error_before_anything_is_paid(destination):
    with pytest.raises(InvalidInputError, match="destination: must be an absolute path or a URI") as caught:
        VideoDownloadOperator(task_id="download", results=[], destination=destination)
    assert "checked when the DAG was parsed" in str(caught.value)


@pytest.mark.parametrize(
    "destination",
    ["/data/videos/{{ run_id }}/", "file:///data/videos/", "s3://bucket/{{ run_id }}/", "{{ var.value.root }}/x"],
)
def test_absolute_uri_and_fully_templated_destinations_pass_parsing(destination):
    VideoDownloadOperator(task_id="download", results=[], destination=destination)


def test_sensor_results_carry_the_prompt_from_upstream_results_or_the_vendor_record(emulator):
    submitted = [
        HailuoVideoOperator(task_id=f"gen{n}", prompt=f"a lantern {n}", wait_for_completion=False).execute({"ti": TI()})
        for n in (1, 2)
    ]
    emulator.state.clock.hold()
    emulator.state.clock.advance(5)
    try:
        from_results = VideoTaskSensor(task_id="w", task_ids=submitted, service="hailuo").poke({"ti": TI()})
        from_ids = VideoTaskSensor(
            task_id="w", task_ids=[item["task_id"] for item in submitted], service="hailuo"
        ).poke({"ti": TI()})
    finally:
        emulator.state.clock.release()
    assert [item["prompt"] for item in from_results.xcom_value] == ["a lantern 1", "a lantern 2"]
    assert [item["prompt"] for item in from_ids.xcom_value] == ["a lantern 1", "a lantern 2"]  # echoed by the API


def test_the_demo_prints_one_readable_line_per_event():
    from airflow_provider_vidgen.demo import progress_message

    task = "acedata hailuo task 0675eb4c-768c-4733-a6c2-8b0a6c3a2cee: succeeded -> http://127.0.0.1:1/files/0675.mp4"
    log = [
        "2026-12-02T18:33:02.17Z [info     ] [DAG TEST] starting task_id=hidream map_index=-1 "
        "[airflow.sdk.definitions.dag] loc=dag.py:1501",
        f"2026-12-02T18:33:05.37Z [info     ] {task} [airflow_provider_vidgen.triggers.video] loc=video.py:133",
        f"2026-12-02T18:33:05.43Z [info     ] {task} "
        "[airflow.task.operators.airflow_provider_vidgen.operators.acedata.HailuoVideoOperator] loc=base.py:471",
        "2026-12-02T18:33:05.50Z [info     ] Reading the connection [airflow.hooks] loc=x.py:1",
    ]
    shown: set[str] = set()
    assert [progress_message(line, shown) for line in log] == ["running task_id=hidream", task, None, None]
