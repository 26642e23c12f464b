"""One pace per token: every request on a token takes a slot, wherever it is sent from.

The arithmetic with a held clock (no real time), the same pace shared by threads, by two real
processes on one machine (the file store) and through a real Redis (when ``redis-server`` is
installed), and a 429 from another client slowing a process down without stopping it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO

from airflow_provider_vidgen.core.pace import AdaptiveRate, interval_for, reserve
from airflow_provider_vidgen.core.transport import HttpResponse
from airflow_provider_vidgen.hooks.pace import FileSlots, ProcessSlots, RedisSlots, TokenPace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


@pytest.mark.parametrize("rate", [20, 3, 0.5, 2.5])
def test_slots_are_spread_evenly_so_no_second_holds_more_than_the_rate(rate):
    clock = Clock()
    pace = TokenPace(ProcessSlots(clock), "k", rate, sleep=clock.sleep)
    sent = []
    for _ in range(60):
        pace.wait()
        sent.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) == pytest.approx(interval_for(rate))
    assert most_in_one_second(sent) <= math.ceil(rate)
    assert sent[0] == 1000.0  # an idle token: the first request goes at once


def test_a_pause_holds_every_sharer_and_reserve_is_pure():
    assert reserve(None, 10.0, 0.5) == (10.5, 0.0)
    assert reserve(12.0, 10.0, 0.5) == (12.5, 2.0)  # the next free slot is in 2 s
    assert reserve(None, 10.0, 0.5, paused_until=13.0) == (13.5, 3.0)


def test_a_429_halves_this_processes_rate_and_passing_requests_restore_it():
    rate = AdaptiveRate(20)
    rate.throttled()
    assert rate.current == 10 and rate.slowed
    rate.throttled()
    rate.throttled()
    assert rate.current == 2.5
    for _ in range(100):
        rate.passed()
    assert rate.current == 20 and not rate.slowed
    for _ in range(20):
        rate.throttled()
    assert rate.current == 1.0  # never below 5% of the configured rate


def test_retry_after_pauses_the_token_for_everyone_sharing_it():
    clock = Clock()
    store = ProcessSlots(clock)
    mine, theirs = TokenPace(store, "k", 10, sleep=clock.sleep), TokenPace(store, "k", 10, sleep=clock.sleep)
    mine.observe(HttpResponse(429, b"{}", {"Retry-After": "3"}))
    assert mine.throttled == 1 and mine.rate.current == 5
    assert theirs.wait() == pytest.approx(3.0)  # the other sharer waits too, though it saw no 429


def test_threads_of_one_process_share_the_pace():
    clock = Clock()
    lock = threading.Lock()
    store = ProcessSlots(clock)
    pace = TokenPace(store, "k", 5, sleep=lambda s: None)
    reserved: list[float] = []

    def submitter() -> None:
        for _ in range(10):
            with lock:
                reserved.append(clock.now + store.reserve("k", pace.rate.interval))

    threads = [threading.Thread(target=submitter) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reserved) == 80 and most_in_one_second(reserved) <= 5


SHARER = r"""
import json, sys, time
from pathlib import Path
from airflow_provider_vidgen.hooks.pace import FileSlots, RedisSlots, TokenPace
store = FileSlots(Path(sys.argv[1])) if sys.argv[1] != "redis" else RedisSlots(sys.argv[2])
pace = TokenPace(store, "shared-token", float(sys.argv[3]))
sent = []
for _ in range(int(sys.argv[4])):
    before = time.time()
    sent.append(before + pace.wait())  # the slot this request was given
print(json.dumps(sent))
"""


def run_sharers(store_arg: str, url: str, rate: float, each: int, processes: int = 2) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", SHARER, store_arg, url, str(rate), str(each)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    sent: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        sent += json.loads(out.strip().splitlines()[-1])
    return sent


def test_two_processes_on_one_machine_share_one_pace(tmp_path):
    """Each process alone would send 10/s; together they still send 10/s (the file store)."""
    sent = run_sharers(str(tmp_path), "", rate=10, each=15)
    assert len(sent) == 30
    assert most_in_one_second(sent) <= 11  # 10 per second, + 1 for the edges of a sliding window
    assert max(sent) - min(sent) >= 29 * interval_for(10) - 0.05  # 30 slots, one interval apart


@pytest.fixture
def redis_url():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed here (make e2e-prod installs it)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                RedisSlots(url).client.ping()
                break
            except Exception:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_two_processes_share_one_pace_through_redis(redis_url):
    sent = run_sharers("redis", redis_url, rate=10, each=15)
    assert len(sent) == 30 and most_in_one_second(sent) <= 11


def test_an_unreachable_redis_falls_back_to_the_machines_pace(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisSlots(f"redis://127.0.0.1:{port}/0")
    key = f"unreachable-{time.time_ns()}"
    assert store.reserve(key, 0.5) == 0.0  # nothing listens there: the file store paces meanwhile
    assert isinstance(store.fallback, FileSlots)
    assert 0 < store.reserve(key, 0.5) <= 0.5


def test_the_file_store_survives_concurrent_writers(tmp_path):
    store = FileSlots(Path(tmp_path), clock=lambda: 1000.0)
    waits: list[float] = []
    threads = [threading.Thread(target=lambda: waits.append(store.reserve("k", 0.01))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(round(w, 2) for w in waits) == [round(0.01 * n, 2) for n in range(20)]  # 20 distinct slots


# ---------------------------------------------------------------------------------------------- polls


class RecordingSlots(ProcessSlots):
    """Slots on a held clock that remember which pace each request took."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.keys: list[str] = []

    def reserve(self, key: str, interval: float) -> float:
        self.keys.append(key)
        return super().reserve(key, interval)


def test_the_poll_pace_defaults_to_the_vendors_stated_limit_and_never_exceeds_the_tokens():
    from airflow_provider_vidgen.core.errors import InvalidInputError
    from airflow_provider_vidgen.core.settings import api_settings
    from airflow_provider_vidgen.vendors.acedata import ACEDATA
    from airflow_provider_vidgen.vendors.hidream import HIDREAM

    assert api_settings(ACEDATA, None, {}).max_polls_per_second == 1.0  # "Stay under 1 req/s" (Docs)
    assert api_settings(HIDREAM, None, {}).max_polls_per_second == 10.0  # no stated limit: the token's
    assert api_settings(ACEDATA, None, {"max_polls_per_second": "0.5"}).max_polls_per_second == 0.5
    assert api_settings(ACEDATA, None, {"max_requests_per_second": 0.2}).max_polls_per_second == 0.2
    with pytest.raises(InvalidInputError, match=r"extra\.max_polls_per_second"):
        api_settings(ACEDATA, None, {"max_polls_per_second": 0})


def test_status_requests_take_the_poll_pace_and_submissions_do_not(emulator, monkeypatch):
    import asyncio

    from conftest import TOKEN, set_connection

    from airflow_provider_vidgen.hooks import gate as gate_module
    from airflow_provider_vidgen.hooks.acedata import AceDataHook

    set_connection(monkeypatch, "acedata_polls", "acedata", emulator.url, TOKEN, max_polls_per_second=2)
    hook = AceDataHook("acedata_polls")
    assert hook.settings.max_polls_per_second == 2
    clock = Clock()
    slots = RecordingSlots(clock)
    gate = hook.request_gate()
    gate.ceiling = TokenPace(slots, "token", 1000, sleep=clock.sleep)
    gate.status = TokenPace(slots, "polls", 2, sleep=clock.sleep)
    monkeypatch.setattr(gate_module, "pace_for", lambda store, key, rate: TokenPace(slots, "submit", rate, clock.sleep))
    try:
        task_id = hook.submit("hailuo", {"prompt": "a paper boat"})
        start = clock.now
        for _ in range(3):
            hook.retrieve("hailuo", task_id)
        # Three polls at 2 per second: the second and third each wait half a second (on the held clock).
        assert 1.0 <= clock.now - start < 1.1
        asyncio.run(hook.aretrieve_many("hailuo", [task_id]))  # the triggers' path takes it as well
    finally:
        hook.close()  # its connection to the emulator, else a ResourceWarning under a later test
    assert slots.keys == ["submit", "token"] + ["polls"] * 4  # polls never queue behind submissions


def test_auto_shares_through_the_celery_broker_only_where_celery_runs(monkeypatch):
    from airflow_provider_vidgen.hooks.pace import _celery_broker

    monkeypatch.setenv("AIRFLOW__CELERY__BROKER_URL", "redis://broker.example:6379/0")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    assert _celery_broker() is None  # [celery] has a default broker even without Celery: a lock file then
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    assert _celery_broker() == "redis://broker.example:6379/0"
