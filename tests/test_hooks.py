"""Hooks, sync and async, against the emulator over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.hooks.acedata import AceDataHook
from airflow_provider_vidgen.hooks.base import hook_for_connection
from airflow_provider_vidgen.hooks.hidream import HiDreamHook


def wait_until_terminal(hook, service, task_ids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results = hook.retrieve_many(service, task_ids)
        if all(result.terminal for result in results.values()):
            return results
        time.sleep(0.1)
    raise AssertionError(f"not terminal in {timeout}s: {results}")


@pytest.mark.parametrize(
    ("hook_cls", "service", "body"),
    [
        (AceDataHook, "hailuo", {"prompt": "a boat"}),
        (AceDataHook, "luma", {"prompt": "a volcano", "aspect_ratio": "16:9"}),
        (AceDataHook, "kling", {"action": "text2video", "prompt": "a mug"}),
        (AceDataHook, "sora", {"model": "sora-2", "prompt": "a cat"}),
        (AceDataHook, "veo", {"action": "text2video", "prompt": "a whale"}),
        (
            AceDataHook,
            "seedance",
            {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "a kitten"}]},
        ),
        (AceDataHook, "wan", {"model": "wan2.6-t2v", "prompt": "a market"}),
        (AceDataHook, "happyhorse", {"prompt": "a horse"}),
        (
            AceDataHook,
            "minimax",
            {
                "model": "MiniMax-H3",
                "content": [{"type": "text", "text": "a fox"}],
                "duration": 4,
                "resolution": "768P",
                "ratio": "16:9",  # text-to-video needs a fixed ratio (Docs guide, n8n node, MCP)
            },
        ),
        (HiDreamHook, "txt2video", {"prompt": "a clownfish"}),
        (HiDreamHook, "img2video", {"image": "https://cdn.example.com/a.png"}),
        (HiDreamHook, "video_edit", {"video_name": "https://cdn.example.com/a.mp4", "style": "anime"}),
        (HiDreamHook, "v3-txt2video", {"prompt": "a clownfish", "negative_prompt": "blur", "resolution": "960*960"}),
        (HiDreamHook, "v3-img2video", {"image": "https://cdn.example.com/a.png"}),
        (
            HiDreamHook,
            "v3-keyframe2video",
            {"images": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"]},
        ),
    ],
)
def test_sync_submit_and_poll_every_service(emulator, hook_cls, service, body):
    hook = hook_cls()
    task_id = hook.submit(service, body)
    assert hook.retrieve(service, task_id).state in ("pending", "running")
    result = wait_until_terminal(hook, service, [task_id])[task_id]
    assert result.state == "succeeded", result
    assert result.videos[0].url.startswith(emulator.url)
    assert hook.retrieve(service, task_id) == result  # single retrieve agrees with the batch path
    assert emulator.stats()["counts"]["submit"] == 1


def test_async_path_matches_sync_path(emulator):
    async def scenario():
        hook = AceDataHook()
        task_id = await hook.asubmit("luma", {"prompt": "a volcano"})
        while not (result := (await hook.aretrieve_many("luma", [task_id]))[task_id]).terminal:
            await asyncio.sleep(0.1)
        return task_id, result, await hook.aretrieve("luma", task_id)

    task_id, batch_result, single = asyncio.run(scenario())
    assert batch_result == single == AceDataHook().retrieve_many("luma", [task_id])[task_id]
    assert batch_result.state == "succeeded"


def test_retrieve_many_chunks_by_batch_size(emulator, monkeypatch):
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, TOKEN, batch_size=2)
    hook = AceDataHook()
    ids = [hook.submit("hailuo", {"prompt": f"clip {n}"}) for n in range(5)]
    emulator.reset()  # count polls only
    results = hook.retrieve_many("hailuo", [*ids, "unknown-id"])
    assert list(results) == [*ids, "unknown-id"]
    assert results["unknown-id"].state == "failed" and results["unknown-id"].error.code == "not_found"
    assert emulator.stats()["counts"]["retrieve_batch"] == 3  # 6 ids, 2 per request


@pytest.mark.parametrize("run", ["sync", "async"])
def test_retrieve_many_of_a_service_without_batch_endpoint_asks_for_each_id(emulator, monkeypatch, run):
    set_connection(monkeypatch, "hidream_default", "hidream", emulator.url, TOKEN, batch_size=2)
    hook = HiDreamHook()
    ids = [hook.submit("v3-txt2video", {"prompt": f"fish {n}"}) for n in range(3)]
    before = emulator.stats()["counts"]  # not reset: that would forget the tasks too
    wanted = [*ids, "unknown-id", ids[0]]
    if run == "sync":
        results = hook.retrieve_many("v3-txt2video", wanted)
    else:
        results = asyncio.run(hook.aretrieve_many("v3-txt2video", wanted))
    assert list(results) == [*ids, "unknown-id"]
    assert all(results[task_id].state != "failed" for task_id in ids)
    # HiDream answers an id it does not know with an empty record: pending and "unknown" (the trigger and the
    # sensor report it not found after a grace time: tests/test_callbacks.py).
    assert results["unknown-id"].state == "pending" and results["unknown-id"].unknown
    counts = {kind: n - before[kind] for kind, n in emulator.stats()["counts"].items()}
    assert counts["retrieve"] == 4 and counts["retrieve_batch"] == 0  # one GET per distinct id, no batch


def test_bad_token_is_a_clear_error_without_the_token(emulator, monkeypatch):
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, "wrong-secret-token")
    with pytest.raises(ApiError) as caught:
        AceDataHook().retrieve_many("hailuo", ["x"])
    assert caught.value.status == 401 and caught.value.code == "invalid_token"
    assert "wrong-secret-token" not in str(caught.value)


def test_connection_without_token(monkeypatch, emulator):
    set_connection(monkeypatch, "acedata_default", "acedata", emulator.url, "")
    with pytest.raises(InvalidInputError, match="no API token"):
        AceDataHook().retrieve("hailuo", "x")


def test_hook_for_connection_follows_connection_type(emulator, monkeypatch):
    assert isinstance(hook_for_connection("hidream_default"), HiDreamHook)
    assert isinstance(hook_for_connection("acedata_default"), AceDataHook)
    set_connection(monkeypatch, "plain_http", "http", emulator.url, TOKEN)
    with pytest.raises(InvalidInputError, match="not a video vendor"):
        hook_for_connection("plain_http")
    with pytest.raises(InvalidInputError, match="needs 'acedata'"):
        AceDataHook("hidream_default").retrieve("hailuo", "x")


def test_each_vendor_names_its_hook_and_the_provider_info_agrees():
    from airflow_provider_vidgen.core.vendor import BUILT_IN, get_vendor
    from airflow_provider_vidgen.get_provider_info import get_provider_info
    from airflow_provider_vidgen.hooks.base import hook_class

    declared = {item["connection-type"]: item["hook-class-name"] for item in get_provider_info()["connection-types"]}
    for vendor in map(get_vendor, BUILT_IN):
        conn_type = vendor.conn_type
        hook = hook_class(vendor)
        assert f"{hook.__module__}.{hook.__name__}" == vendor.hook_class_name == declared[conn_type]
        assert hook.vendor is vendor and hook.default_conn_name == vendor.default_conn_id
