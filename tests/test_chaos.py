"""Chaos: 200 paid generations while the API misbehaves; every one finishes, none is paid twice.

Submissions go through the hooks (as operators do) with the faults that provably create nothing
switched on: 429s with Retry-After, 500s with the vendor's error envelope, and added latency; the
core resends those. Faults whose outcome the client cannot know (a dropped connection, an HTML 502
from a proxy, a read timeout after the body was sent) are never resent; they are proven separately
(tests/test_reliability.py). Then every fault is on (429, 500, non-JSON 502, dropped connections,
latency) while 200 ``VideoTaskTrigger``\\ s wait in one event loop, as in a triggerer, sharing polls.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.core.transport import RetryPolicy
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.base import VideoApiHook
from airflow_provider_vidgen.hooks.hidream import HiDreamHook
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger, next_event

# (connection, service, request body) x count: 200 generations across both vendors and four services.
PLAN = [
    ("acedata_default", "hailuo", {"prompt": "a paper boat"}, 50),
    ("acedata_default", "luma", {"prompt": "an astronaut"}, 50),
    ("acedata_default", "kling", {"action": "text2video", "prompt": "a mug"}, 50),
    ("hidream_default", "txt2video", {"prompt": "a clownfish"}, 50),
]
SUBMIT_FAULTS = dict(fail_429_rate=0.1, fail_500_rate=0.1, latency=0.005)
POLL_FAULTS = dict(fail_429_rate=0.1, fail_500_rate=0.1, fail_502_rate=0.1, drop_rate=0.1, latency=0.01)
# Enough attempts that 20% faulted submissions never exhaust them (0.2**8 per generation).
SUBMIT_RETRY = RetryPolicy(max_attempts=8, base_delay=0.1, max_delay=1.0)
TIME_LIMIT = 60.0


@pytest.fixture
def chaos(emulator, monkeypatch):
    """Generations that take a few seconds (so polls meet many faults), in batches of 10 ids per poll."""
    emulator.configure(queued_seconds=0.5, running_seconds=4.0, seed=2026, retry_after=None)
    for conn_id, conn_type in (("acedata_default", "acedata"), ("hidream_default", "hidream")):
        set_connection(monkeypatch, conn_id, conn_type, emulator.url, TOKEN, batch_size=10)
    yield emulator
    emulator.configure(seed=0, **dict.fromkeys((*SUBMIT_FAULTS, *POLL_FAULTS), 0))


def test_200_generations_through_faults_each_paid_exactly_once(chaos):
    emu = chaos
    started = time.monotonic()
    hooks: dict[str, VideoApiHook] = {
        "acedata_default": AceDataHook(retry=SUBMIT_RETRY),
        "hidream_default": HiDreamHook(retry=SUBMIT_RETRY),
    }
    for hook in hooks.values():
        hook.get_conn()  # one client per hook, shared by the submitting threads

    # Phase 1: submit all 200 under nothing-created faults.
    emu.configure(**SUBMIT_FAULTS)
    work = [
        (conn_id, service, {**body, "prompt": f"{body['prompt']} #{n}"})
        for conn_id, service, body, count in PLAN
        for n in range(count)
    ]
    with ThreadPoolExecutor(max_workers=32) as pool:
        ids = list(pool.map(lambda job: hooks[job[0]].submit(job[1], job[2]), work))
    for hook in hooks.values():
        hook.close()
    after_submit = emu.stats()
    assert len(set(ids)) == 200
    assert after_submit["tasks"] == after_submit["tasks_created"] == 200  # one task per generation
    assert after_submit["counts"]["fault"] > 0  # faults really happened, and were retried

    # Phase 2: wait for all of them with every fault on, as a triggerer would.
    emu.configure(**POLL_FAULTS)
    triggers = [
        VideoTaskTrigger(
            conn_id, service, [task_id], poll_interval=0.3, end_time=time.time() + 45, max_poll_failures=10
        )
        for (conn_id, service, _), task_id in zip(work, ids, strict=True)
    ]

    async def wait_all() -> list[dict]:
        return await asyncio.gather(*(next_event(trigger) for trigger in triggers))

    events = asyncio.run(wait_all())
    elapsed = time.monotonic() - started
    emu.configure(**dict.fromkeys(POLL_FAULTS, 0))

    for (conn_id, service, _), task_id, event in zip(work, ids, events, strict=True):
        assert event["status"] == "success", event["message"]
        (result,) = event["results"]
        assert result["task_id"] == task_id and result["service"] == service
        assert result["vendor"] == ("hidream" if conn_id == "hidream_default" else "acedata")
        assert result["state"] == "succeeded"
        assert [video["url"] for video in result["videos"]] == [f"{emu.url}/files/{task_id}.mp4"]

    stats = emu.stats()
    assert stats["tasks"] == stats["tasks_created"] == 200 and set(emu.state.tasks) == set(ids)
    assert stats["counts"]["submit"] == after_submit["counts"]["submit"]  # waiting never submits
    assert stats["counts"]["fault"] - after_submit["counts"]["fault"] >= 10  # polls were faulted too
    # Shared polling: 20 batch requests per cycle for all 200, not 200 single polls per cycle.
    assert stats["counts"]["retrieve"] == 0 and stats["counts"]["retrieve_batch"] < 400
    assert elapsed < TIME_LIMIT, f"took {elapsed:.1f}s"

    # The videos are real files (sample a few).
    with httpx.Client(trust_env=False, timeout=5) as http:
        for task_id in ids[::40]:
            answer = http.head(f"{emu.url}/files/{task_id}.mp4")
            assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
