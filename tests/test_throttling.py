"""429s slow a batch down; they never kill it: another client hammers the same token (a tool outside
Airflow, so outside the shared pace), the emulator limits the token, and the batch still submits every
item exactly once. It stops only at the deadline the user set, saying how far it got."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from conftest import TOKEN, set_connection
from test_reliability import FakeStore, FakeTI, logs

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator

PROMPTS = [f"a busy token, take {n}" for n in range(16)]


class Noise:
    """Another client of the same token: retrieves as fast as the emulator lets it, until stopped."""

    def __init__(self, url: str, per_second: float) -> None:
        self.url, self.gap = url, 1.0 / per_second
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        headers = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.url, headers=headers, trust_env=False, timeout=10) as client:
            while not self.stop.is_set():
                client.post("/hailuo/tasks", json={"action": "retrieve", "id": "someone-elses"})
                self.sent += 1
                self.stop.wait(self.gap)

    def __enter__(self) -> Noise:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def batch(**kwargs) -> HailuoBatchVideoOperator:
    return HailuoBatchVideoOperator(
        task_id="busy", prompts=PROMPTS, acedata_conn_id="acedata_busy", wait_for_completion=False, **kwargs
    )


@pytest.mark.parametrize("retry_after", [False, True], ids=["no-retry-after", "retry-after"])
def test_a_batch_rides_out_a_429_storm_from_another_client(emulator, monkeypatch, caplog, capfd, retry_after):
    emulator.configure(rate_limit=8, send_retry_after=retry_after, retry_after=1 if retry_after else None)
    # The batch believes it has the token's whole rate; the other client takes most of it.
    set_connection(monkeypatch, "acedata_busy", "acedata", emulator.url, TOKEN, max_requests_per_second=8)
    with Noise(emulator.url, per_second=6) as noise:
        results = batch().execute({"ti": FakeTI(), "task_state_store": FakeStore()})
    stats = emulator.stats()
    assert noise.sent > 0 and stats["counts"]["rate_limited"] > 0, stats["counts"]  # there was a storm
    assert [item["state"] for item in results] == ["pending"] * len(PROMPTS)  # every item got its vendor task
    assert stats["tasks_created"] == len(PROMPTS)  # exactly one submission each
    text = logs(caplog, capfd)
    assert "rate limited" in text and "Stopped submitting" not in text


def test_a_batch_stops_only_at_the_deadline_the_user_set_and_says_how_far_it_got(emulator, monkeypatch):
    emulator.configure(fail_429_rate=1.0, send_retry_after=False)
    set_connection(monkeypatch, "acedata_busy", "acedata", emulator.url, TOKEN, max_requests_per_second=50)
    started = time.monotonic()
    with pytest.raises(AirflowFailException) as caught:
        batch(submit_timeout=2).execute({"ti": FakeTI(), "task_state_store": FakeStore()})
    text = str(caught.value)
    assert "the submission deadline passed" in text and f"0 of {len(PROMPTS)} item(s) accepted" in text
    assert emulator.stats()["tasks_created"] == 0 and time.monotonic() - started >= 2
