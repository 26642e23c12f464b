"""The shared poller: many triggers of one connection in one event loop share batched polls.

Correctness only (no timing assertions): what goes out in which request, who gets which result,
what a cancelled trigger leaves behind, and that a 429 seen by one trigger holds back the others.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.transport import HttpResponse, RetryPolicy
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.base import VideoApiHook
from airflow_provider_vidgen.hooks.hidream import HiDreamHook
from airflow_provider_vidgen.triggers import poller as poller_module
from airflow_provider_vidgen.triggers.poller import SharedPoller, pollers_in_loop, shared_poller
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger
from airflow_provider_vidgen.triggers.video import next_event as first_event

FAST_POLL_RETRY = RetryPolicy(max_attempts=3, base_delay=0.02, max_delay=0.1)


@pytest.fixture
def wire(monkeypatch) -> list[dict[str, Any]]:
    """Every request the pollers send: when, what kind, which ids, and the answer's status."""
    sent: list[dict[str, Any]] = []
    original = VideoApiHook.asend

    async def recording(self, client, request):
        entry: dict[str, Any] = {"at": time.monotonic(), "kind": request.kind, "path": request.path}
        body = request.json if isinstance(request.json, dict) else {}
        single = body.get("id") or (request.params or {}).get("task_id")  # Ace Data's retrieve, HiDream's GET
        entry["ids"] = list(body.get("ids") or body.get("task_id_list") or ([single] if single else []))
        sent.append(entry)
        outcome = await original(self, client, request)
        entry["status"] = getattr(outcome, "status", None)
        entry["answered"] = time.monotonic()
        return outcome

    monkeypatch.setattr(VideoApiHook, "asend", recording)
    return sent


@pytest.fixture
def clients(monkeypatch) -> list[Any]:
    """Every AsyncClient a poller creates."""
    made: list[Any] = []
    original = VideoApiHook.aget_client

    async def recording(self, **limits):
        client = await original(self, **limits)
        made.append(client)
        return client

    monkeypatch.setattr(VideoApiHook, "aget_client", recording)
    return made


def submit(hook: VideoApiHook, service: str, prompts: list[str]) -> list[str]:
    try:
        return [hook.submit(service, {"prompt": prompt}) for prompt in prompts]
    finally:
        hook.close()


def trigger(task_ids: list[str], service: str = "hailuo", conn_id: str = "acedata_default", **kwargs):
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("end_time", time.time() + 30)
    return VideoTaskTrigger(conn_id, service, task_ids, **kwargs)


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def the_poller(conn_id: str = "acedata_default") -> SharedPoller:
    await until(lambda: conn_id in pollers_in_loop())
    return pollers_in_loop()[conn_id]


class HeldClock:
    """The pollers' clock, stopped until ``release()``: no cycle comes due while triggers subscribe.

    Without it, triggers started together subscribe a few ms apart, and on a busy machine the first
    cycle can come due before the last of them has joined.
    """

    def __init__(self) -> None:
        self.held_at: float | None = time.monotonic()

    def __call__(self) -> float:
        return self.held_at if self.held_at is not None else time.monotonic()

    def release(self) -> None:
        self.held_at = None


@pytest.fixture
def start_together(monkeypatch):
    """Start triggers so that all of them are subscribed before their first poll cycle."""

    async def start(triggers: list[VideoTaskTrigger], conn_id: str = "acedata_default") -> list[asyncio.Task]:
        held = HeldClock()
        monkeypatch.setattr(poller_module, "clock", held)
        waiting = [asyncio.create_task(first_event(t)) for t in triggers]
        poller = await the_poller(conn_id)
        await until(lambda: len(poller.subscriptions) == len(triggers))
        held.release()
        return waiting

    return start


# ------------------------------------------------------------------------------------------------
# Batching and routing
# ------------------------------------------------------------------------------------------------


async def test_ids_of_many_triggers_go_out_in_one_request_per_cycle(emulator, wire, clients, start_together):
    ids = submit(AceDataHook(), "hailuo", [f"boat {n}" for n in range(12)])
    waiting = await start_together([trigger([task_id]) for task_id in ids])
    poller = await the_poller()
    events = await asyncio.gather(*waiting)

    assert [e["status"] for e in events] == ["success"] * 12
    assert [e["results"][0]["task_id"] for e in events] == ids
    stats = emulator.stats()
    assert stats["counts"]["retrieve"] == 0  # never one request per task
    assert stats["counts"]["retrieve_batch"] == len(wire) == poller.requests_sent == poller.cycles
    assert sorted(wire[0]["ids"]) == sorted(ids)  # the first cycle asked for all twelve at once
    assert stats["ids_polled"] == sum(len(entry["ids"]) for entry in wire) == poller.ids_polled
    assert len(clients) == 1  # one pooled client for the connection, not one per trigger


async def test_a_cycle_is_chunked_at_the_connection_batch_size(emulator, monkeypatch, wire, start_together):
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, TOKEN, batch_size=3)
    emulator.configure(queued_seconds=0.3, running_seconds=0.4)
    ids = submit(AceDataHook(), "hailuo", [f"boat {n}" for n in range(10)])
    events = await asyncio.gather(*await start_together([trigger([task_id]) for task_id in ids]))

    assert all(e["status"] == "success" for e in events)
    first_cycle = wire[:4]  # ceil(10 / 3) requests cover every id once
    assert sorted(len(entry["ids"]) for entry in first_cycle) == [1, 3, 3, 3]  # in any order
    assert sorted(i for entry in first_cycle for i in entry["ids"]) == sorted(ids)
    assert all(entry["kind"] == "retrieve_batch" and len(entry["ids"]) <= 3 for entry in wire)
    assert emulator.stats()["counts"]["retrieve_batch"] == len(wire)


async def test_hidream_triggers_share_its_batch_results_endpoint(emulator, wire, start_together):
    ids = submit(HiDreamHook(), "txt2video", [f"kite {n}" for n in range(4)])
    triggers = [trigger([task_id], service="txt2video", conn_id="hidream_default") for task_id in ids]
    events = await asyncio.gather(*await start_together(triggers, "hidream_default"))
    assert [(e["status"], e["results"][0]["state"]) for e in events] == [("success", "succeeded")] * 4
    assert all(entry["path"].endswith("/results/batch") for entry in wire)
    assert sorted(wire[0]["ids"]) == sorted(ids)
    assert emulator.stats()["counts"]["retrieve"] == 0


async def test_hidream_v3_ids_are_polled_one_get_each_through_the_shared_poller(emulator, wire, start_together):
    """HiDream v3 documents no batch-results endpoint: a cycle asks for each id with its own GET."""
    hook = HiDreamHook()
    ids = [hook.submit("v3-txt2video", {"prompt": f"kite {n}"}) for n in range(3)]
    ids.append(hook.submit("v3-keyframe2video", {"images": ["https://cdn.example.com/a.png"] * 2, "prompt": "x"}))
    hook.close()
    triggers = [trigger(ids[:2], service="v3-txt2video", conn_id="hidream_default")]
    triggers += [trigger([ids[2]], service="v3-txt2video", conn_id="hidream_default")]
    triggers += [trigger([ids[3]], service="v3-keyframe2video", conn_id="hidream_default")]
    waiting = await start_together(triggers, "hidream_default")
    poller = pollers_in_loop()["hidream_default"]
    events = await asyncio.gather(*waiting)

    assert [e["status"] for e in events] == ["success"] * 3
    assert [[r["state"] for r in e["results"]] for e in events] == [["succeeded"] * 2, ["succeeded"], ["succeeded"]]
    assert [r["task_id"] for e in events for r in e["results"]] == ids
    assert all(
        r["videos"][0]["url"] == f"{emulator.url}/files/{r['task_id']}.mp4" for e in events for r in e["results"]
    )
    assert all(entry["kind"] == "retrieve" and len(entry["ids"]) == 1 for entry in wire)
    assert {entry["path"] for entry in wire} == {
        "/api-pub/gw/v3/video/txt2video/async/results",
        "/api-pub/gw/v3/video/keyframe2video/async/results",
    }
    assert sorted(i for entry in wire[:4] for i in entry["ids"]) == sorted(ids)  # the first cycle: each id once
    stats = emulator.stats()
    assert stats["counts"]["retrieve_batch"] == 0 and stats["counts"]["retrieve"] == len(wire) == poller.requests_sent
    assert stats["ids_polled"] == len(wire) == poller.ids_polled


async def test_a_429_on_one_v3_get_holds_back_every_poll_of_the_connection(emulator, monkeypatch, wire):
    """The one-GET-per-id polls of HiDream v3 still pass the shared gate: a Retry-After pauses them all."""
    hook = HiDreamHook()
    ids = [hook.submit("v3-img2video", {"image": f"https://cdn.example.com/{n}.png"}) for n in range(6)]
    hook.close()
    emulator.configure(rate_limit=3, retry_after=1.0)
    try:
        events = await asyncio.gather(
            *(
                first_event(trigger(chunk, service="v3-img2video", conn_id="hidream_default"))
                for chunk in (ids[:3], *([task_id] for task_id in ids[3:]))
            )
        )
    finally:
        emulator.configure(rate_limit=0, retry_after=None)

    assert [e["status"] for e in events] == ["success"] * 4
    assert all(r["state"] == "succeeded" for e in events for r in e["results"])
    assert all(entry["kind"] == "retrieve" for entry in wire)
    limited = [entry for entry in wire if entry["status"] == 429]
    assert limited and emulator.stats()["counts"]["rate_limited"] == len(limited)
    for hit in limited:
        after = [entry["at"] for entry in wire if entry["at"] > hit["answered"]]
        assert not after or min(after) >= hit["answered"] + 0.95


async def test_each_trigger_gets_its_own_results_even_when_ids_overlap(emulator, wire):
    ok, failed, rejected, slow = submit(
        AceDataHook(), "hailuo", ["boat", "boat [fail]", "boat [reject]", "boat [slow]"]
    )
    pairs = {
        "ok": [ok],
        "failed": [failed],
        "rejected": [rejected],
        "ok+slow": [ok, slow],  # shares ``ok`` with the first trigger
    }
    names = list(pairs)
    events = dict(zip(names, await asyncio.gather(*(first_event(trigger(pairs[n])) for n in names)), strict=True))

    states = {name: [(r["task_id"], r["state"]) for r in e["results"]] for name, e in events.items()}
    assert states == {
        "ok": [(ok, "succeeded")],
        "failed": [(failed, "failed")],
        "rejected": [(rejected, "failed")],
        "ok+slow": [(ok, "succeeded"), (slow, "succeeded")],
    }
    assert events["rejected"]["results"][0]["error"]["code"] != events["failed"]["results"][0]["error"]["code"]
    assert all(e["task_ids"] == pairs[name] for name, e in events.items())
    assert all(len(entry["ids"]) == len(set(entry["ids"])) for entry in wire)  # a shared id is asked once
    # Once ``ok`` had finished, only the slow task was still polled.
    assert wire[-1]["ids"] == [slow]


async def test_an_unknown_id_fails_only_its_own_trigger(emulator, wire, start_together):
    ids = submit(AceDataHook(), "hailuo", ["boat 1", "boat 2"])
    events = await asyncio.gather(*await start_together([trigger([task_id]) for task_id in [*ids, "no-such-task"]]))

    assert [e["status"] for e in events] == ["success"] * 3
    assert [e["results"][0]["state"] for e in events] == ["succeeded", "succeeded", "failed"]
    assert events[2]["results"][0]["error"]["code"] == "not_found"
    assert "no-such-task" in wire[0]["ids"] and len(wire[0]["ids"]) == 3  # same request as the others


async def test_an_unknown_service_fails_only_its_own_trigger(emulator, wire):
    (task_id,) = submit(AceDataHook(), "hailuo", ["boat"])
    good, bad = await asyncio.gather(first_event(trigger([task_id])), first_event(trigger(["x-1"], service="nope")))
    assert good["status"] == "success" and good["results"][0]["state"] == "succeeded"
    assert bad["status"] == "error" and "unknown Ace Data Cloud service 'nope'" in bad["message"]
    assert all("x-1" not in entry["ids"] for entry in wire)  # rejected before any request


# ------------------------------------------------------------------------------------------------
# Cancellation and cleanup
# ------------------------------------------------------------------------------------------------


async def test_a_cancelled_trigger_is_no_longer_polled_and_the_others_carry_on(emulator, wire, start_together):
    emulator.configure(queued_seconds=0.5, running_seconds=1.0)
    leaving, staying = submit(AceDataHook(), "hailuo", ["boat 1", "boat 2"])
    cancelled, kept = await start_together([trigger([leaving]), trigger([staying])])
    poller = await the_poller()
    await until(lambda: len(wire) >= 1 and "status" in wire[0])
    assert sorted(wire[0]["ids"]) == sorted([leaving, staying])

    cancelled.cancel()  # the task was cleared / marked failed: Airflow cancels the trigger
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert len(poller.subscriptions) == 1 and not poller.closed
    cut = len(wire)
    event = await kept

    assert event["status"] == "success" and event["results"][0]["state"] == "succeeded"
    later = wire[cut:]
    assert later and all(entry["ids"] == [staying] for entry in later)


async def test_the_last_trigger_leaving_stops_the_poller_and_closes_its_client(emulator, clients):
    ids = submit(AceDataHook(), "hailuo", ["boat 1", "boat 2", "boat 3"])
    events = await asyncio.gather(*(first_event(trigger([task_id])) for task_id in ids[:2]))
    assert all(e["status"] == "success" for e in events)
    assert pollers_in_loop() == {}  # left the registry at once
    await until(lambda: clients[0].is_closed)  # the cancelled poller task closes its client
    assert len(clients) == 1

    # A trigger arriving afterwards gets a fresh poller and client.
    event = await first_event(trigger([ids[2]]))
    assert event["status"] == "success"
    await until(lambda: clients[-1].is_closed)
    assert pollers_in_loop() == {} and len(clients) == 2 and clients[0] is not clients[1]


async def test_cancelling_every_trigger_mid_poll_leaves_nothing_running(emulator, clients, wire):
    emulator.configure(queued_seconds=5, running_seconds=5)
    ids = submit(AceDataHook(), "hailuo", [f"boat {n}" for n in range(5)])
    emulator.configure(latency=0.5)  # every poll is in flight a while
    waiting = [asyncio.create_task(first_event(trigger([task_id]))) for task_id in ids]
    poller = await the_poller()
    await until(lambda: len(wire) >= 1)  # a poll is in flight now
    assert "status" not in wire[-1]
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await until(lambda: poller._task.done())

    assert poller.closed and not poller.subscriptions
    assert pollers_in_loop() == {}
    assert clients[0].is_closed
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("vidgen-poller")]


async def test_many_triggers_starting_together_resolve_the_connection_once(emulator, monkeypatch):
    lookups = []
    original = poller_module.ahook_for_connection

    async def counting(conn_id, **kwargs):
        lookups.append(conn_id)
        await asyncio.sleep(0.05)  # a slow secrets backend: every other trigger arrives meanwhile
        return await original(conn_id, **kwargs)

    monkeypatch.setattr(poller_module, "ahook_for_connection", counting)
    pollers = await asyncio.gather(*(shared_poller("acedata_default") for _ in range(50)))
    assert len({id(p) for p in pollers}) == 1 and lookups == ["acedata_default"]


def test_a_fresh_event_loop_per_run_gets_its_own_poller(emulator):
    """dag.test() runs every trigger with asyncio.run: pollers must never cross loops."""
    ids = submit(AceDataHook(), "hailuo", ["boat 1", "boat 2"])
    seen: list[tuple[asyncio.AbstractEventLoop, SharedPoller]] = []

    async def run(task_id: str) -> dict[str, Any]:
        step = asyncio.ensure_future(trigger([task_id]).run().__anext__())
        seen.append((asyncio.get_running_loop(), await the_poller()))
        return (await step).payload

    first = asyncio.run(run(ids[0]))
    second = asyncio.run(run(ids[1]))
    assert first["status"] == second["status"] == "success"
    (loop1, poller1), (loop2, poller2) = seen
    assert loop1 is not loop2 and poller1 is not poller2
    assert poller1.closed and poller2.closed
    assert poller_module._registry.get(loop1) == {} and poller_module._registry.get(loop2) == {}


# ------------------------------------------------------------------------------------------------
# Shared backoff
# ------------------------------------------------------------------------------------------------


async def test_a_429_seen_by_one_trigger_holds_back_every_trigger_of_the_connection(emulator, monkeypatch, wire):
    # One id per request and three requests per second: a cycle of ten triggers runs into the limit.
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, TOKEN, batch_size=1)
    ids = submit(AceDataHook(), "hailuo", [f"boat {n}" for n in range(10)])
    emulator.configure(rate_limit=3, retry_after=1.0)
    try:
        events = await asyncio.gather(*(first_event(trigger([task_id])) for task_id in ids))
    finally:
        emulator.configure(rate_limit=0, retry_after=None)

    assert [e["status"] for e in events] == ["success"] * 10
    limited = [entry for entry in wire if entry["status"] == 429]
    assert limited and emulator.stats()["counts"]["rate_limited"] == len(limited)
    for hit in limited:
        # Whichever trigger's request got the 429, no trigger sent anything during the Retry-After pause.
        after = [entry["at"] for entry in wire if entry["at"] > hit["answered"]]
        assert not after or min(after) >= hit["answered"] + 0.95


async def test_retry_after_on_a_5xx_also_pauses_the_connection(emulator, monkeypatch):
    poller = SharedPoller(AceDataHook(), retry=RetryPolicy(max_attempts=1))
    await poller.hook.asettings()
    sent: list[float] = []

    async def answer_503(self, client, request):
        sent.append(time.monotonic())
        return HttpResponse(503, b"{}", {"Retry-After": "0.3"})

    monkeypatch.setattr(VideoApiHook, "asend", answer_503)
    for task_id in ("t-1", "t-2"):  # no retry: the second poll waits only for the pause the first one heard
        with pytest.raises(ApiError):
            await poller._fetch("hailuo", [task_id])
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.29
    assert poller.rate_limited == 0  # paused, not counted as a 429


async def test_a_poller_that_cannot_start_fails_its_triggers_instead_of_stranding_them(emulator, monkeypatch):
    async def broken(self, **limits):
        raise RuntimeError("no client today")

    monkeypatch.setattr(VideoApiHook, "aget_client", broken)
    events = await asyncio.gather(*(first_event(trigger([f"t-{n}"])) for n in range(3)))
    assert [e["status"] for e in events] == ["error"] * 3
    assert all("the shared poller stopped: RuntimeError: no client today" in e["message"] for e in events)
    assert pollers_in_loop() == {}


async def test_ids_of_a_trigger_that_left_after_its_cycle_began_are_not_fetched(emulator, wire):
    kept_id, left_id = submit(AceDataHook(), "hailuo", ["boat 1", "boat 2"])
    poller = await shared_poller("acedata_default")
    kept = poller.subscribe("hailuo", [kept_id], poll_interval=60)
    left = poller.subscribe("hailuo", [left_id], poll_interval=60)
    await until(lambda: poller._client is not None)
    poller.unsubscribe(left)  # it leaves after the cycle chose its subscriptions
    try:
        await poller.poll([kept, left])
    finally:
        poller.unsubscribe(kept)
    assert [entry["ids"] for entry in wire] == [[kept_id]]
    assert list(kept.updates.get_nowait()) == [kept_id] and left.updates.empty()
    assert emulator.stats()["ids_polled"] == poller.ids_polled == 1
