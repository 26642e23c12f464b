"""Killing a waiting generation cancels at the vendor only what the vendor can cancel, and never a finished one.

Airflow >= 3.3 calls the trigger's ``on_kill`` when a user marks the deferred task failed or success or
clears it, and also after the callback receiver resumed it. Only MiniMax can cancel (a queued task, with its
``delete`` action). The triggers run against the emulator over real HTTP with its clock held, so each task
is in the phase the test puts it in. The whole path under a real triggerer is in ``make e2e``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from conftest import TOKEN

from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger

BODIES = {
    "minimax": {"model": "MiniMax-H3", "content": [{"type": "text", "text": "a fox"}], "duration": 4,
                "resolution": "768P", "ratio": "16:9"},
    "hailuo": {"prompt": "a fox"},
}  # fmt: skip


def submit(service: str, count: int) -> list[str]:
    hook = AceDataHook()
    try:
        return [hook.submit(service, BODIES[service]) for _ in range(count)]
    finally:
        hook.close()


def status(emulator: Any, task_id: str) -> str | None:
    """MiniMax's own status word for the task, as its tasks endpoint answers."""
    answer = httpx.post(
        f"{emulator.url}/minimax/tasks",
        json={"action": "retrieve", "id": task_id},
        headers={"authorization": f"Bearer {TOKEN}"},
        trust_env=False,
    )
    return answer.json()["task"]["status"]


def trigger(service: str, ids: list[str]) -> VideoTaskTrigger:
    return VideoTaskTrigger("acedata_default", service, ids, poll_interval=3600)


async def test_minimax_queued_tasks_are_cancelled_started_ones_named(emulator, caplog):
    emulator.hold_clock()
    (started,) = submit("minimax", 1)
    emulator.advance(0.25)  # past its queue time (0.2 s): running
    queued = submit("minimax", 2)
    with caplog.at_level(logging.INFO):
        await trigger("minimax", [started, *queued]).on_kill()
    assert [status(emulator, task_id) for task_id in queued] == ["cancelled", "cancelled"]
    assert status(emulator, started) == "running"
    assert emulator.stats()["counts"]["delete"] == 2  # never for the started one
    assert f"cannot cancel minimax tasks that already started, so they go on: {started}" in caplog.text
    assert all(f"Cancelled minimax task {task_id}" in caplog.text for task_id in queued)


async def test_finished_tasks_are_never_cancelled(emulator, caplog):
    """As after a callback resumed the task: the triggerer calls on_kill, and nothing is touched."""
    ids = submit("minimax", 2)
    emulator.advance(5)
    with caplog.at_level(logging.INFO):
        await trigger("minimax", ids).on_kill()
    assert emulator.stats()["counts"]["delete"] == 0
    assert "nothing to cancel" in caplog.text


async def test_a_vendor_without_cancel_is_named_and_nothing_is_sent(emulator, caplog):
    emulator.hold_clock()
    ids = submit("hailuo", 2)
    before = emulator.stats()["counts"]
    with caplog.at_level(logging.INFO):
        await trigger("hailuo", ids).on_kill()
    after = emulator.stats()["counts"]
    assert after == before  # not one request: there is nothing to ask
    assert "Ace Data Cloud cannot cancel hailuo tasks, so these generations go on (and are billed)" in caplog.text
    assert ", ".join(ids) in caplog.text


async def test_a_triggerer_restart_never_cancels(emulator):
    """A restart or redistribution cancels the trigger's run (no on_kill): the vendor task goes on."""
    emulator.hold_clock()
    ids = submit("minimax", 1)
    polling = VideoTaskTrigger("acedata_default", "minimax", ids, poll_interval=0.05)
    running = asyncio.ensure_future(polling.run().__anext__())
    while emulator.stats()["counts"]["retrieve_batch"] < 2:  # it is polling
        await asyncio.sleep(0.01)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert emulator.stats()["counts"]["delete"] == 0 and status(emulator, ids[0]) == "queued"


async def test_the_cancel_goes_out_even_when_the_triggerer_cancels_on_kill_again(emulator):
    # Airflow 3.3.2 cancels a trigger again at every state sync while its on_kill runs.
    emulator.hold_clock()
    queued = submit("minimax", 1)
    killing = asyncio.ensure_future(trigger("minimax", queued).on_kill())
    while emulator.stats()["counts"]["retrieve_batch"] + emulator.stats()["counts"]["retrieve"] == 0:
        await asyncio.sleep(0.01)  # on_kill has asked the vendor: now the triggerer cancels it
    killing.cancel()
    try:
        await killing
    except asyncio.CancelledError:
        pass
    for _ in range(3000):  # the shielded work goes on in the loop (bounded: 30 s)
        if emulator.stats()["counts"]["delete"]:
            break
        await asyncio.sleep(0.01)
    assert status(emulator, queued[0]) == "cancelled"
