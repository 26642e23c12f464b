"""The vendor's published limits, kept by every process on a token (issue: in-flight requests, per-service
submit rates).

* the limits are data on each service row, with their source, and a connection's extras change them;
* a request holds a lease of its category's in-flight limit while it is open, from the same stores as the
  shared pace (process, lock file, Redis); leases expire, so a worker killed while holding them gives them
  back;
* each kind of request has its own pace: a 429 on one service slows that service only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REPO, TOKEN, set_connection
from test_pace import Clock, redis_url  # noqa: F401  (fixture)

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.limits import limit_settings
from airflow_provider_vidgen.core.settings import api_settings
from airflow_provider_vidgen.core.transport import ApiRequest, HttpResponse
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.gate import RequestGate
from airflow_provider_vidgen.hooks.pace import FileSlots, InFlight, ProcessSlots, RedisSlots
from airflow_provider_vidgen.vendors.acedata import ACEDATA
from airflow_provider_vidgen.vendors.acedata.services import SERVICES

# ---------------------------------------------------------------------------------------------- data


def test_the_table_carries_the_published_limits_with_their_sources():
    published = {
        name: (spec.limits.group, spec.limits.in_flight, spec.limits.submit_rate) for name, spec in SERVICES.items()
    }
    assert published["sora"] == ("video", 5, 0.5)
    assert published["veo"] == published["veo-extend"] == ("video", 5, 0.5)
    assert published["kling"] == published["kling-motion"] == ("video", 5, 1.0)
    assert published["hailuo"] == published["luma"] == ("video", 5, None)
    assert published["flux"] == ("image", 10, 5.0)
    assert published["midjourney"] == ("midjourney", 5, 1.0)
    # Sub-endpoints of a family share its submit pace; every row names where its figures come from.
    assert SERVICES["kling-motion"].limits.rate_key("kling-motion") == "kling"
    assert all(spec.limits.source for spec in SERVICES.values())
    assert "assumed" in SERVICES["seedance"].limits.source and "assumed" not in SERVICES["sora"].limits.source


def test_a_connection_raises_or_lowers_the_limits():
    sora, hailuo = SERVICES["sora"], SERVICES["hailuo"]
    default = api_settings(ACEDATA, None, {}).limits
    assert default.in_flight_for("sora", sora.limits) == 5 and default.submit_rate_for("sora", sora.limits) == 0.5
    assert default.submit_rate_for("hailuo", hailuo.limits) == 0.0  # not published: the token's ceiling
    raised = api_settings(ACEDATA, None, {"max_in_flight": {"video": 10}, "submit_rates": {"sora": 2}}).limits
    assert raised.in_flight_for("hailuo", hailuo.limits) == 10 and raised.submit_rate_for("sora", sora.limits) == 2
    assert limit_settings({"max_in_flight": 0}).in_flight_for("sora", sora.limits) == 0  # no cap
    assert limit_settings({"max_in_flight": {"sora": 2}}).in_flight_for("sora", sora.limits) == 2


@pytest.mark.parametrize(
    ("extras", "field"),
    [
        ({"max_in_flight": -1}, "extra.max_in_flight"),
        ({"max_in_flight": "five"}, "extra.max_in_flight"),
        ({"max_in_flight": True}, "extra.max_in_flight"),
        ({"max_in_flight": {"video": 2.5}}, "extra.max_in_flight.video"),
        ({"submit_rates": [1]}, "extra.submit_rates"),
        ({"submit_rates": {"sora": "fast"}}, "extra.submit_rates.sora"),
        ({"submit_rates": {"sora": -1}}, "extra.submit_rates.sora"),
        ({"submit_rates": {"sora": float("inf")}}, "extra.submit_rates.sora"),
    ],
)
def test_a_bad_limit_names_its_field_before_any_request(extras, field):
    with pytest.raises(InvalidInputError) as caught:
        api_settings(ACEDATA, None, extras)
    assert caught.value.field == field and "got" in str(caught.value)


# ---------------------------------------------------------------------------------------------- paces


def test_a_429_on_one_service_slows_that_service_not_the_others_nor_the_polls():
    settings = api_settings(ACEDATA, None, {"shared_pace": "process", "max_requests_per_second": 20})
    gate = RequestGate("Ace Data Cloud", settings, f"token-{time.time_ns()}")
    sora, hailuo = SERVICES["sora"], SERVICES["hailuo"]
    submit = ApiRequest("POST", "/sora/videos", "submit")
    gate.check_balance = lambda: None  # type: ignore[method-assign]
    gate.send(submit, sora, None, lambda: HttpResponse(429, b"{}"))
    sora_pace = gate.waits(submit, sora).paces[0]
    hailuo_pace = gate.waits(ApiRequest("POST", "/hailuo/videos", "submit"), hailuo).paces[0]
    poll_pace = gate.waits(ApiRequest("POST", "/sora/tasks", "retrieve_batch"), sora).paces[0]
    assert sora_pace.rate.slowed and sora_pace.rate.configured == 0.5
    assert not hailuo_pace.rate.slowed and hailuo_pace.rate.configured == 20
    assert not poll_pace.rate.slowed and poll_pace is gate.status
    assert not gate.ceiling.rate.slowed and gate.throttled == 1


def test_a_submission_waits_for_its_services_pace(emulator, monkeypatch):
    """Sora at its published 0.5/s: three submissions take four seconds, whatever the token's ceiling."""
    set_connection(monkeypatch, "acedata_sora", "acedata", emulator.url, TOKEN, submit_rates={}, shared_pace="process")
    hook = AceDataHook("acedata_sora")
    sent: list[float] = []
    try:
        hook.get_conn().event_hooks["request"].append(lambda request: sent.append(time.monotonic()))
        for n in range(3):
            hook.submit("sora", {"model": "sora-2", "prompt": f"a paper boat {n}"})
    finally:
        hook.close()
    assert len(sent) == 3 and sent[2] - sent[0] >= 2 * 2 / 1.02 - 0.05


# ---------------------------------------------------------------------------------------------- leases


def lease_store(kind: str, tmp_path: Path, clock: Clock, request: Any) -> Any:
    if kind == "process":
        return ProcessSlots(clock)
    if kind == "file":
        return FileSlots(tmp_path, clock=clock)
    return RedisSlots(request.getfixturevalue("redis_url"))


@pytest.mark.parametrize("kind", ["process", "file", "redis"])
def test_a_store_gives_leases_up_to_the_limit_and_takes_them_back(kind, tmp_path, request):
    clock = Clock()
    store = lease_store(kind, tmp_path, clock, request)
    key = f"leases-{time.time_ns()}"
    assert [store.acquire(key, 2, 60, lease) for lease in ("a", "b", "c")] == [True, True, False]
    store.release(key, "a")
    assert store.acquire(key, 2, 60, "c") and not store.acquire(key, 2, 60, "d")
    store.release(key, "gone")  # giving back a lease that is not held changes nothing
    assert not store.acquire(key, 2, 60, "d")


@pytest.mark.parametrize("kind", ["process", "file"])
def test_a_lease_not_given_back_expires(kind, tmp_path, request):
    clock = Clock()
    store = lease_store(kind, tmp_path, clock, request)
    assert store.acquire("k", 1, 30, "held-by-a-dead-worker") and not store.acquire("k", 1, 30, "next")
    clock.sleep(29.9)
    assert not store.acquire("k", 1, 30, "next")
    clock.sleep(0.2)
    assert store.acquire("k", 1, 30, "next")


HOLDER = r"""
import sys, time
from pathlib import Path
from airflow_provider_vidgen.hooks.pace import FileSlots, InFlight, RedisSlots
store = FileSlots(Path(sys.argv[1])) if sys.argv[1] != "redis" else RedisSlots(sys.argv[2])
leases = InFlight(store, "killed-token", int(sys.argv[3]), float(sys.argv[4]))
held = [leases.hold() for _ in range(int(sys.argv[3]))]
print("held", flush=True)
time.sleep(600)  # killed long before
"""


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_a_worker_killed_while_holding_leases_gives_them_back_when_they_expire(kind, tmp_path, request):
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    store_arg = "redis" if kind == "redis" else str(tmp_path)
    limit, ttl = 3, 2.0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store_arg, url, str(limit), str(ttl)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "held"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed = time.monotonic()
        store = FileSlots(tmp_path) if kind == "file" else RedisSlots(url)
        leases = InFlight(store, "killed-token", limit, ttl)
        assert not store.acquire("killed-token", limit, ttl, "too-early")  # the dead worker's leases still count
        lease = leases.hold(deadline=killed + ttl + 10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert lease is not None  # back within the expiry, without anyone giving them back


def test_a_deadline_passed_while_waiting_for_a_lease_sends_nothing(tmp_path):
    store = FileSlots(tmp_path)
    assert store.acquire("full", 1, 60, "someone-else")
    assert InFlight(store, "full", 1, 60).hold(deadline=time.monotonic() + 0.2) is None


# ---------------------------------------------------------------------------------------------- on the wire


def most_open_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = open_now = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most


def submit_from_two_tasks(emulator: Any, monkeypatch: Any, max_in_flight: int) -> list[tuple[float, float]]:
    """Two hooks on one token (two tasks), four threads each, each request 0.2 s at the emulator."""
    set_connection(monkeypatch, "acedata_busy", "acedata", emulator.url, TOKEN, max_in_flight=max_in_flight)
    emulator.configure(latency=0.2)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def task(name: str) -> None:
        hook = AceDataHook("acedata_busy")
        started: dict[int, float] = {}

        def answered(response: httpx.Response) -> None:
            with lock:
                spans.append((started.pop(id(response.request)), time.monotonic()))

        client = hook.get_conn()
        client.event_hooks["request"].append(lambda request: started.__setitem__(id(request), time.monotonic()))
        client.event_hooks["response"].append(answered)
        threads = [threading.Thread(target=hook.submit, args=("hailuo", {"prompt": f"{name} {n}"})) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        hook.close()

    tasks = [threading.Thread(target=task, args=(name,)) for name in ("first", "second")]
    for thread in tasks:
        thread.start()
    for thread in tasks:
        thread.join()
    return spans


def test_requests_on_one_token_stay_within_its_in_flight_limit(emulator, monkeypatch):
    capped = submit_from_two_tasks(emulator, monkeypatch, max_in_flight=3)
    assert len(capped) == 8 and most_open_at_once(capped) <= 3
    uncapped = submit_from_two_tasks(emulator, monkeypatch, max_in_flight=0)  # the same, with no cap: 8 at once
    assert len(uncapped) == 8 and most_open_at_once(uncapped) > 3
