"""The emulator over real HTTP on loopback: shapes, lifecycle, markers, callbacks, counters, faults."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.flows import retrieve_flow, submit_flow
from airflow_provider_vidgen.core.schema import validate_body
from airflow_provider_vidgen.core.submission import prepare
from airflow_provider_vidgen.core.transport import ApiRequest, HttpResponse, RetryPolicy, run_sync
from airflow_provider_vidgen.emulator import EmulatorConfig, EmulatorServer, create_app
from airflow_provider_vidgen.emulator.server import ThreadedServer
from airflow_provider_vidgen.emulator.state import EmulatorClock
from airflow_provider_vidgen.vendors.acedata import ACEDATA
from airflow_provider_vidgen.vendors.acedata import vendor as acedata_words
from airflow_provider_vidgen.vendors.hidream import HIDREAM
from airflow_provider_vidgen.vendors.hidream import services as hidream_rows

QUEUED, RUNNING = 0.2, 0.3
BASELINE = dict(
    queued_seconds=QUEUED,
    running_seconds=RUNNING,
    rate_limit=0.0,
    fail_429_rate=0.0,
    fail_500_rate=0.0,
    fail_502_rate=0.0,
    drop_rate=0.0,
    ambiguous_submit_rate=0.0,
    balance_submissions=None,
    latency=0.0,
    submit_hold_seconds=0.0,
    unknown_404=False,
    max_batch_ids=100,
    seed=0,
)

# A valid body per Ace Data service (markers go into "prompt" or content[].text).
ACE_BODIES: dict[str, dict[str, Any]] = {
    "hailuo": {"prompt": "a paper boat"},
    "luma": {"prompt": "astronaut"},
    "kling": {"action": "text2video", "prompt": "mug"},
    "kling-motion": {
        "mode": "std",
        "image_url": "https://cdn.example.com/a.png",
        "video_url": "https://cdn.example.com/a.mp4",
        "character_orientation": "image",
        "prompt": "dance",
    },
    "sora": {"model": "sora-2", "prompt": "cat"},
    "veo": {"action": "text2video", "prompt": "whale"},
    "veo-extend": {"video_id": "v1", "model": "veo31-fast", "prompt": "more whale"},
    "veo-upsample": {"video_id": "v1", "action": "1080p"},
    "seedance": {"model": "doubao-seedance-1-5-pro-251215", "content": [{"type": "text", "text": "kitten"}]},
    "wan": {"model": "wan2.6-t2v", "prompt": "walk"},
    "happyhorse": {"prompt": "horse"},
    "veo-reshoot": {"video_id": "v1", "motion_type": "LEFT_TO_RIGHT"},
    "veo-objects": {"video_id": "v1", "action": "insert", "prompt": "add a flying pig"},
    "kling-lip-sync": {"mode": "audio2video", "video_id": "v1", "audio_url": "https://cdn.example.com/a.mp3"},
    "kling-talking-photo": {"image_url": "https://cdn.example.com/a.png", "audio_url": "https://cdn.example.com/a.mp3"},
    "grok": {"prompt": "a lighthouse in a storm"},
    "dreamina": {"image_url": "https://cdn.example.com/portrait.jpg", "audio_url": "https://cdn.example.com/a.mp3"},
    "digital-human": {"video_url": "https://cdn.example.com/a.mp4", "audio_url": "https://cdn.example.com/a.mp3"},
    "maestro": {"prompt": "60-second explainer about tides", "duration": 60},
    "minimax": {
        "model": "MiniMax-H3",
        "content": [{"type": "text", "text": "fox"}],
        "duration": 4,
        "resolution": "768P",
        "ratio": "16:9",  # text-to-video needs a fixed ratio (Docs minimax_videos.mdx)
    },
    "gemini": {"prompt": "kitten chasing a butterfly", "aspect_ratio": "9:16"},
    "flux": {"mode": "t2v", "prompt": "sunset by the sea"},
    "midjourney": {"prompt": "a cat on a table", "image_url": "https://cdn.example.com/cat.jpg"},
    "kickart": {"prompt": "a steel water bottle", "duration": 15, "product_url": "https://shop.example.com/p/1"},
    "kickart-viral": {"prompt": "same energy", "ref_video": "https://cdn.example.com/ref.mp4", "language": "en"},
    "kickart-template": {"template_id": "1690784258", "resource_list": ["https://cdn.example.com/input.jpg"]},
}
HIDREAM_BODIES: dict[str, dict[str, Any]] = {
    "txt2video": {"prompt": "clownfish"},
    "img2video": {"image": "https://cdn.example.com/lighthouse.jpg", "prompt": "waves"},
    "video_edit": {"video_name": "https://cdn.example.com/pig.mp4", "prompt": "watercolor pig"},
    "v3-txt2video": {"prompt": "clownfish", "resolution": "1280*720"},
    "v3-img2video": {"image": "https://cdn.example.com/lighthouse.jpg", "prompt": "waves"},
    "v3-keyframe2video": {
        "images": ["https://cdn.example.com/dawn.png", "https://cdn.example.com/dusk.png"],
        "prompt": "a day passes",
        "duration": 10,
    },
}


def test_bodies_cover_every_service():
    assert set(ACE_BODIES) == set(ACEDATA.services)
    assert set(HIDREAM_BODIES) == set(HIDREAM.services)


def with_marker(body: dict[str, Any], marker: str) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    if "content" in body:
        body["content"][0]["text"] += " " + marker
    else:
        body["prompt"] = body.get("prompt", "") + " " + marker
    return body


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(token="secret-token", **BASELINE) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(emu):
    emu.configure(**BASELINE)
    emu.reset()
    yield


@pytest.fixture
def client(emu):
    with httpx.Client(
        base_url=emu.url, headers={"authorization": f"Bearer {emu.token}"}, trust_env=False, timeout=10
    ) as http:
        yield http


@pytest.fixture
def anon(emu):
    with httpx.Client(base_url=emu.url, trust_env=False, timeout=10) as http:
        yield http


class Receiver:
    """A tiny separate HTTP server that records the callbacks it receives."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[tuple[str, Any]] = []

        async def hook(request: Request) -> JSONResponse:
            self.received.append((request.url.path, await request.json()))
            return JSONResponse({"ok": True}, status_code=status)

        self.server = ThreadedServer(Starlette(routes=[Route("/{name}", hook, methods=["POST"])]))

    def __enter__(self) -> Receiver:
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop()

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"


def submit_ace(client: httpx.Client, name: str, body: dict[str, Any] | None = None, **extra: Any) -> str:
    spec = ACEDATA.services[name]
    answer = client.post(spec.submit_path, json={**(body or ACE_BODIES[name]), "async": True, **extra})
    assert answer.status_code == 200, answer.text
    ack = answer.json()
    assert set(ack) == {"task_id", "trace_id"}
    return ack["task_id"]


def retrieve_ace(client: httpx.Client, name: str, task_id: str) -> Any:
    answer = client.post(ACEDATA.services[name].poll_path, json={"action": "retrieve", "id": task_id})
    assert answer.status_code == 200, answer.text
    return answer.json()


def submit_hidream(client: httpx.Client, module: str, body: dict[str, Any] | None = None) -> str:
    answer = client.post(HIDREAM.services[module].submit_path, json=body or HIDREAM_BODIES[module])
    assert answer.status_code == 200, answer.text
    envelope = answer.json()
    assert envelope["code"] == 0 and envelope["message"] == "Success", envelope
    return envelope["result"]["task_id"]


def retrieve_hidream(client: httpx.Client, module: str, task_id: str) -> Any:
    answer = client.get(HIDREAM.services[module].poll_path, params={"task_id": task_id})
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 0
    return answer.json()["result"]


def wait_terminal(client: httpx.Client, name: str, task_id: str, timeout: float = 5.0) -> Any:
    spec = ACEDATA.services[name]
    deadline = time.monotonic() + timeout
    while True:
        record = retrieve_ace(client, name, task_id)
        if ACEDATA.interpret_record(spec, task_id, record).terminal:
            return record
        assert time.monotonic() < deadline, f"{name} task {task_id} never finished: {record}"
        time.sleep(0.05)


def wait_hidream(client: httpx.Client, module: str, task_id: str, timeout: float = 5.0) -> Any:
    spec = HIDREAM.services[module]
    deadline = time.monotonic() + timeout
    while True:
        record = retrieve_hidream(client, module, task_id)
        if HIDREAM.interpret_record(spec, task_id, record).terminal:
            return record
        assert time.monotonic() < deadline
        time.sleep(0.05)


def dedupe(sequence: list[str]) -> list[str]:
    return [item for index, item in enumerate(sequence) if index == 0 or sequence[index - 1] != item]


def error_of(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    assert body["success"] is False and isinstance(body["trace_id"], str), body
    return body["error"]


# ------------------------------------------------------------------------------------------------
# The balance (balance_submissions)
# ------------------------------------------------------------------------------------------------


def test_the_emulator_refuses_past_the_balance_with_the_vendors_body_and_tops_up(emu, client):
    emu.configure(balance_submissions=2)
    answers = [client.post("/hailuo/videos", json={"prompt": f"a kite {n}", "async": True}) for n in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 403]
    body = answers[2].json()
    assert body["success"] is False and body["error"]["code"] == "used_up" and body["trace_id"]
    assert body["error"]["message"].startswith("Your balance is not sufficient for current request")
    stats = emu.stats()
    assert stats["tasks_created"] == 2 and stats["counts"]["used_up"] == 1  # the refusal created nothing
    assert stats["balance_left"] == {"token-0": 0}
    emu.configure(balance_submissions=1)  # a top-up: one more submission from now on
    again = client.post("/hailuo/videos", json={"prompt": "a kite 2", "async": True})
    assert again.status_code == 200 and emu.stats()["balance_left"] == {"token-0": 0}
    poll = client.post("/hailuo/tasks", json={"id": again.json()["task_id"]})
    assert poll.status_code == 200  # polls cost nothing: an empty balance still reads its tasks
    emu.configure(balance_submissions=None)
    assert emu.stats()["balance_left"] == {}


# ------------------------------------------------------------------------------------------------
# Auth
# ------------------------------------------------------------------------------------------------


def test_acedata_auth_errors(emu, anon):
    missing = anon.post("/hailuo/videos", json=ACE_BODIES["hailuo"])
    assert missing.status_code == 400 and error_of(missing)["code"] == "no_token"
    wrong = anon.post("/hailuo/tasks", json={"id": "x"}, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "invalid_token"
    stats = emu.stats()
    assert stats["counts"]["rejected_auth"] == 2 and stats["tasks"] == 0
    assert stats["by_vendor"]["acedata"]["rejected_auth"] == 2


def test_hidream_auth_errors(emu, anon):
    path = HIDREAM.services["txt2video"].submit_path
    for headers in ({}, {"authorization": "Bearer nope"}):
        answer = anon.post(path, json=HIDREAM_BODIES["txt2video"], headers=headers)
        assert answer.status_code == 401
        body = answer.json()
        assert body["code"] == 1001 and body["result"] is None and body["request_id"]
    assert emu.stats()["by_vendor"]["hidream"]["rejected_auth"] == 2
    assert emu.stats()["tasks"] == 0


# ------------------------------------------------------------------------------------------------
# Lifecycle and shapes
# ------------------------------------------------------------------------------------------------


def test_acedata_lifecycle_every_service(emu, client):
    """Every service goes queued -> running -> succeeded, read by the provider's own interpreter."""
    emu.hold_clock()  # each phase is looked at before the clock moves on: no race on a busy machine
    ids = {name: submit_ace(client, name) for name in ACE_BODIES}
    seen: dict[str, list[str]] = {name: [] for name in ids}
    records: dict[str, list[Any]] = {name: [] for name in ids}
    for _ in range(100):
        for name, task_id in ids.items():
            spec = ACEDATA.services[name]
            record = retrieve_ace(client, name, task_id)
            records[name].append(record)
            seen[name].append(ACEDATA.interpret_record(spec, task_id, record).state)
        if all(states[-1] == "succeeded" for states in seen.values()):
            break
        emu.advance(0.03)
    for name, states in seen.items():
        spec = ACEDATA.services[name]
        running = "pending" if spec.words.running in acedata_words.QUEUED_WORDS else "running"
        assert dedupe(states) == dedupe(["pending", running, "succeeded"]), (name, states)
        first, last = records[name][0], records[name][-1]
        result = ACEDATA.interpret_record(spec, ids[name], last)
        assert result.videos[0].url == f"{emu.url}/files/{ids[name]}.mp4"
        if spec.shape.value == "task":
            assert first["task"]["status"] == "queued" and last["task"]["status"] == "succeeded"
            continue
        assert "response" not in first and "finished_at" not in first  # queued
        assert first["id"] == ids[name] and len(first["_id"]) == 24 and isinstance(first["created_at"], float)
        running_records = [r for r in records[name] if "response" in r and "finished_at" not in r]
        assert running_records, name
        assert isinstance(last["finished_at"], float) and isinstance(last["elapsed"], float)
        assert last["request"]["async"] is True
        response = last["response"]
        assert response["task_id"] == ids[name]
        if spec.words.state_key is None:  # flux, midjourney: success, error and videos only
            assert not re.search(r'"(state|status)":', json.dumps([running_records, response])), name
            assert running_records[0]["response"] == {"success": True, "task_id": ids[name]} | (
                {"progress": running_records[0]["response"]["progress"]} if name == "midjourney" else {}
            )
        elif spec.shape.value == "flat":
            assert running_records[0]["response"][spec.words.state_key] == spec.words.running
            assert response[spec.words.state_key] == spec.words.success and response["video_url"]
        else:
            running_data = running_records[0]["response"]["data"]
            running_item = running_data if spec.shape.value == "data_object" else running_data[0]
            assert running_item[spec.words.state_key] == spec.words.running
            item = response["data"] if spec.shape.value == "data_object" else response["data"][0]
            assert item[spec.words.state_key] == spec.words.success
            assert not running_item.get("video_url")


def test_acedata_shapes_match_fixtures(client):
    """Spot checks of the service-specific dressing seen in the vendor fixtures."""
    ids = {name: submit_ace(client, name) for name in ("luma", "kling", "seedance", "minimax", "wan")}
    luma = wait_terminal(client, "luma", ids["luma"])["response"]
    assert luma["thumbnail_url"].endswith(f"/files/{ids['luma']}.jpg")
    assert (luma["video_width"], luma["video_height"]) == (160, 90) and luma["state"] == "completed"
    kling = wait_terminal(client, "kling", ids["kling"])
    assert kling["type"] == "videos" and kling["job_id"] and kling["response"]["state"] == "succeed"
    assert isinstance(kling["response"]["duration"], str)
    seed = wait_terminal(client, "seedance", ids["seedance"])["response"]["data"][0]
    assert seed["status"] == "succeeded" and seed["content"]["video_url"].endswith(".mp4") and "state" not in seed
    minimax = wait_terminal(client, "minimax", ids["minimax"])
    assert set(minimax) == {"task"} and minimax["task"]["content"]["url"].endswith(".mp4")
    wan = wait_terminal(client, "wan", ids["wan"])["response"]
    assert set(wan) == {"success", "task_id", "state", "video_url"}


def test_gemini_flux_and_midjourney_shapes_match_fixtures(emu, client, anon):
    """Gemini's data[] item, Flux's stateless item, Midjourney's cover and four downloadable videos."""
    ids = {name: submit_ace(client, name) for name in ("gemini", "flux", "midjourney")}
    gemini = wait_terminal(client, "gemini", ids["gemini"])
    assert gemini["type"] == "videos"
    assert set(gemini["response"]["data"][0]) == {"id", "video_url", "state", "aspect_ratio", "prompt"}
    assert gemini["response"]["data"][0]["aspect_ratio"] == "9:16"
    flux = wait_terminal(client, "flux", ids["flux"])["response"]["data"][0]
    assert flux["id"] == ids["flux"] and flux["model"] == "flux-3" and "state" not in flux
    assert (flux["width"], flux["height"]) == (160, 90)
    record = wait_terminal(client, "midjourney", ids["midjourney"])
    response = record["response"]
    assert response["progress"] == 100 and len(response["video_id"]) == 16 and "state" not in response
    result = ACEDATA.interpret_record(ACEDATA.services["midjourney"], ids["midjourney"], record)
    assert result.video_urls == response["video_urls"] and len(set(result.video_urls)) == 4
    assert {video.thumbnail_url for video in result.videos} == {response["image_url"]}
    for url in (*result.video_urls, response["image_url"]):
        assert anon.get(url).status_code == 200, url
    assert anon.get(f"{emu.url}/files/{ids['midjourney']}_4.mp4").status_code == 404


def test_kickart_answers_like_its_spec(client):
    """Docs openapi/kickart.json: response.data is one object (no state word), usage a plain number, its
    task_id the task's own; the three paths share /kickart/tasks (Skills SKILL.md "Task Queries")."""
    ids = {name: submit_ace(client, name) for name in ("kickart", "kickart-viral", "kickart-template")}
    spec_keys = {
        "kickart": ["task_id", "video_url", "produce_id", "usage", "template_id", "mode", "type", "duration"],
        "kickart-viral": ["task_id", "video_url", "usage", "template_id", "mode"],
        "kickart-template": ["task_id", "video_url", "usage", "template_id"],
    }
    for name, task_id in ids.items():
        record = wait_terminal(client, name, task_id)
        response = record["response"]
        assert list(response) == ["success", "task_id", "trace_id", "data"] and response["success"] is True
        assert list(response["data"]) == spec_keys[name] and response["data"]["task_id"] == task_id
        assert isinstance(response["data"]["usage"], float) and not re.search(r'"(state|status)":', json.dumps(record))
        result = ACEDATA.interpret_record(ACEDATA.services[name], task_id, record)
        assert result.state == "succeeded" and result.usage == {"usage": response["data"]["usage"]}
    assert wait_terminal(client, "kickart", ids["kickart"])["response"]["data"]["duration"] == 15
    batch = client.post("/kickart/tasks", json={"action": "retrieve_batch", "ids": list(ids.values())}).json()
    assert {item["id"] for item in batch["items"]} == set(ids.values())
    failed = submit_ace(client, "kickart", with_marker(ACE_BODIES["kickart"], "[fail]"))
    response = wait_terminal(client, "kickart", failed)["response"]
    assert response["success"] is False and set(response["error"]) == {"code", "message"} and "data" not in response


def test_hidream_lifecycle_every_module(emu, client):
    emu.hold_clock()
    ids = {module: submit_hidream(client, module) for module in HIDREAM_BODIES}
    seen: dict[str, list[str]] = {module: [] for module in ids}
    progress: dict[str, list[float]] = {module: [] for module in ids}
    for _ in range(100):
        for module, task_id in ids.items():
            record = retrieve_hidream(client, module, task_id)
            assert record["task_id"] == task_id
            subs = record["sub_task_results"]
            seen[module].append("empty" if not subs else str(subs[0]["task_status"]))
            if subs and subs[0]["task_status"] == hidream_rows.PROCESSING:
                progress[module].append(subs[0]["task_completion"])
        if all(states[-1] == "1" for states in seen.values()):
            break
        emu.advance(0.02)
    for module, task_id in ids.items():
        assert dedupe(seen[module]) == ["empty", "0", "2", "1"], (module, seen[module])
        assert progress[module] == sorted(progress[module]) and 0 < progress[module][-1] < 1
        result = HIDREAM.interpret_record(HIDREAM.services[module], task_id, retrieve_hidream(client, module, task_id))
        assert result.state == "succeeded" and result.progress == 1.0
        assert result.videos[0].url == f"{emu.url}/files/{task_id}.mp4"
        assert result.videos[0].watermarked_url == f"{emu.url}/files/{task_id}_wm.mp4"


def test_core_flows_drive_the_emulator(emu):
    """The provider's own sans-IO flows (submit + retrieve) work against the emulator unchanged."""
    with httpx.Client(base_url=emu.url, trust_env=False, timeout=10) as http:

        def sender(vendor):
            def send(request: ApiRequest) -> HttpResponse:
                answer = http.request(
                    request.method,
                    request.path,
                    json=request.json,
                    params=request.params,
                    headers=vendor.auth_headers(emu.token, {}),
                )
                return HttpResponse(answer.status_code, answer.content, dict(answer.headers))

            return send

        for vendor, service, body in (
            (ACEDATA, "hailuo", ACE_BODIES["hailuo"]),
            (HIDREAM, "txt2video", HIDREAM_BODIES["txt2video"]),
        ):
            submission = prepare(vendor, service, body)
            spec, request = submission.spec, submission.request
            task_id = run_sync(submit_flow(vendor, request, RetryPolicy(1)), sender(vendor), time.sleep)
            deadline = time.monotonic() + 5
            while True:
                result = run_sync(retrieve_flow(vendor, spec, task_id, RetryPolicy(1)), sender(vendor), time.sleep)
                if result.terminal or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert result.state == "succeeded", result.describe()


def test_blocking_submission_returns_the_final_body(client):
    started = time.monotonic()
    answer = client.post("/luma/videos", json={"prompt": "sync please"})
    assert answer.status_code == 200
    assert time.monotonic() - started >= QUEUED + RUNNING - 0.05
    body = answer.json()
    assert body["state"] == "completed" and body["video_url"].endswith(".mp4")
    assert ACEDATA.interpret_record(ACEDATA.services["luma"], body["task_id"], body).state == "succeeded"


# ------------------------------------------------------------------------------------------------
# Markers
# ------------------------------------------------------------------------------------------------


def test_fail_marker_acedata(client):
    hailuo = submit_ace(client, "hailuo", with_marker(ACE_BODIES["hailuo"], "[fail]"))
    luma = submit_ace(client, "luma", with_marker(ACE_BODIES["luma"], "[fail]"))
    minimax = submit_ace(client, "minimax", with_marker(ACE_BODIES["minimax"], "[fail]"))

    record = wait_terminal(client, "hailuo", hailuo)
    assert "finished_at" not in record  # like fixture hailuo/task_failed_structured_error.json
    assert record["response"]["success"] is False and record["response"]["error"]["code"] == "api_error"
    result = ACEDATA.interpret_record(ACEDATA.services["hailuo"], hailuo, record)
    assert result.state == "failed" and result.error.code == "api_error"

    record = wait_terminal(client, "luma", luma)
    assert isinstance(record["finished_at"], float) and record["response"]["state"] == "failed"
    assert ACEDATA.interpret_record(ACEDATA.services["luma"], luma, record).error.code == "api_error"

    record = wait_terminal(client, "minimax", minimax)
    assert record["task"]["status"] == "failed" and record["task"]["error"]["code"] == "api_error"


def test_reject_and_nourl_markers_acedata(client):
    sora = submit_ace(client, "sora", with_marker(ACE_BODIES["sora"], "[reject]"))
    seedance = submit_ace(client, "seedance", with_marker(ACE_BODIES["seedance"], "[nourl]"))
    record = wait_terminal(client, "sora", sora)
    assert record["response"]["data"][0]["state"] == "failed" and "finished_at" in record
    result = ACEDATA.interpret_record(ACEDATA.services["sora"], sora, record)
    assert result.state == "failed" and result.error.code == "content_policy_violation"
    record = wait_terminal(client, "seedance", seedance)
    assert record["response"]["data"][0]["status"] == "succeeded"
    result = ACEDATA.interpret_record(ACEDATA.services["seedance"], seedance, record)
    assert result.state == "failed" and result.error.code == "no_video"


def test_slow_marker_triples_the_time(emu, client):
    emu.hold_clock()
    slow = submit_ace(client, "wan", with_marker(ACE_BODIES["wan"], "[slow]"))
    normal = submit_ace(client, "wan")
    emu.advance(QUEUED + RUNNING)
    spec = ACEDATA.services["wan"]
    assert ACEDATA.interpret_record(spec, normal, retrieve_ace(client, "wan", normal)).state == "succeeded"
    assert ACEDATA.interpret_record(spec, slow, retrieve_ace(client, "wan", slow)).state == "pending"  # 3x queue
    emu.advance(2 * (QUEUED + RUNNING) - 0.02)
    assert ACEDATA.interpret_record(spec, slow, retrieve_ace(client, "wan", slow)).state == "running"
    emu.advance(0.04)
    assert ACEDATA.interpret_record(spec, slow, retrieve_ace(client, "wan", slow)).state == "succeeded"


def test_the_emulator_clock_holds_steps_and_never_goes_back():
    clock = EmulatorClock()
    clock.hold()
    held = clock()
    assert clock() == held and clock.held
    clock.advance(5)
    assert clock() == held + 5
    clock.release()
    assert not clock.held and clock() >= held + 5  # runs on from where it stood
    before = clock()
    clock.advance(2)
    assert clock() >= before + 2
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-1)


def test_fail_and_reject_markers_hidream(client):
    failed = submit_hidream(client, "txt2video", with_marker(HIDREAM_BODIES["txt2video"], "[fail]"))
    rejected = submit_hidream(client, "img2video", with_marker(HIDREAM_BODIES["img2video"], "[reject]"))
    record = wait_hidream(client, "txt2video", failed)
    assert record["sub_task_results"][0]["task_status"] == hidream_rows.FAILED
    assert HIDREAM.interpret_record(HIDREAM.services["txt2video"], failed, record).state == "failed"
    record = wait_hidream(client, "img2video", rejected)
    assert record["sub_task_results"][0]["task_status"] == hidream_rows.REJECTED
    result = HIDREAM.interpret_record(HIDREAM.services["img2video"], rejected, record)
    assert result.state == "failed" and result.error.code == "moderation_rejected"


# ------------------------------------------------------------------------------------------------
# Polling: batches, unknown ids, families
# ------------------------------------------------------------------------------------------------


def test_retrieve_batch_with_unknown_id(emu, client):
    first, second = submit_ace(client, "hailuo"), submit_ace(client, "hailuo")
    answer = client.post("/hailuo/tasks", json={"action": "retrieve_batch", "ids": [first, "nope", second]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 2 and [item["id"] for item in body["items"]] == [first, second]
    results = ACEDATA.parse_batch(ACEDATA.services["hailuo"], [first, "nope", second], body)
    assert results["nope"].state == "failed" and results["nope"].error.code == "not_found"
    assert results[first].state == "pending"
    assert emu.stats()["ids_polled"] == 3

    minimax = submit_ace(client, "minimax")
    body = client.post("/minimax/tasks", json={"action": "retrieve_batch", "ids": [minimax, "nope"]}).json()
    assert body["total"] == 1 and body["items"][0]["id"] == minimax and body["items"][0]["status"] == "queued"

    too_many = client.post("/hailuo/tasks", json={"action": "retrieve_batch", "ids": [f"id{i}" for i in range(101)]})
    assert too_many.status_code == 400 and error_of(too_many)["code"] == "bad_request"


def test_hidream_batch_and_unknown_id(client):
    task_id = submit_hidream(client, "txt2video")
    path = HIDREAM.services["txt2video"].poll_path + "/batch"
    body = client.post(path, json={"task_id_list": [task_id, "nope"]}).json()
    assert body["code"] == 0 and isinstance(body["result"], list)
    # An unknown id comes back as the docs say: its id with no sub-task (read as pending, "unknown").
    assert body["result"][1] == {"task_id": "nope", "sub_task_results": []}
    results = HIDREAM.parse_batch(HIDREAM.services["txt2video"], [task_id, "nope"], body["result"])
    assert results["nope"].state == "pending" and results["nope"].unknown
    assert results[task_id].state == "pending"
    assert client.post(path, json={"task_id_list": []}).json()["result"] == []  # the provider's probe
    assert retrieve_hidream(client, "txt2video", "nope") == {"task_id": "nope", "sub_task_results": []}
    assert retrieve_hidream(client, "img2video", task_id)["sub_task_results"] == []  # other module: not visible


def test_hidream_v3_has_single_results_only(emu, client):
    """No v3 batch-results endpoint is documented, so the emulator serves none (the provider never calls one)."""
    ids = {}
    for module in ("v3-txt2video", "v3-img2video", "v3-keyframe2video"):
        spec = HIDREAM.services[module]
        ids[module] = task_id = submit_hidream(client, module)
        answer = client.post(spec.poll_path + "/batch", json={"task_id_list": [task_id]})
        assert answer.status_code == 404 and answer.json()["code"] == 404, answer.text
        assert retrieve_hidream(client, module, task_id)["task_id"] == task_id
        assert retrieve_hidream(client, module, "nope") == {"task_id": "nope", "sub_task_results": []}
    # v2 and v3 are separate families: a v3 task is not visible through the v2 results of the same module.
    assert (
        retrieve_hidream(client, "txt2video", ids["v3-txt2video"])["sub_task_results"] == []
    )  # v2 knows nothing of it
    stats = emu.stats()["by_vendor"]["hidream"]
    assert stats["submit"] == 3 and stats["retrieve"] == 7 and stats.get("retrieve_batch", 0) == 0


def test_unknown_id_and_task_families(emu, client):
    assert retrieve_ace(client, "hailuo", "nope") == {}
    emu.configure(unknown_404=True)
    answer = client.post("/hailuo/tasks", json={"action": "retrieve", "id": "nope"})
    assert answer.status_code == 404 and error_of(answer)["code"] == "not_found"
    emu.configure(unknown_404=False)

    hailuo = submit_ace(client, "hailuo")
    assert retrieve_ace(client, "luma", hailuo) == {}  # only visible through its own family
    motion = submit_ace(client, "kling-motion")
    assert retrieve_ace(client, "kling", motion)["id"] == motion  # kling and kling-motion share /kling/tasks
    assert retrieve_ace(client, "veo-upsample", submit_ace(client, "veo"))  # /veo/tasks family


def test_minimax_delete_cancels_a_queued_task_and_deletes_a_finished_record(emu, client):
    """Docs minimax_tasks.mdx: queued -> cancelled, succeeded/failed -> record deleted, running and cancelled
    -> refused (the refusal's body is undocumented: the platform's 400 envelope)."""
    emu.hold_clock()

    def delete(task_id: str) -> httpx.Response:
        return client.post("/minimax/tasks", json={"action": "delete", "id": task_id})

    queued, running, finished = (submit_ace(client, "minimax") for _ in range(3))
    assert delete(queued).json() == {"id": queued, "deleted": True}
    assert retrieve_ace(client, "minimax", queued)["task"]["status"] == "cancelled"
    assert delete(queued).status_code == 400 and "already cancelled" in error_of(delete(queued))["message"]
    emu.advance(QUEUED + RUNNING / 2)
    assert delete(running).status_code == 400 and "running" in error_of(delete(running))["message"]
    emu.advance(RUNNING)
    assert delete(finished).json() == {"id": finished, "deleted": True}
    assert retrieve_ace(client, "minimax", finished) == {}
    assert delete("no-such-task").json() == {"id": "no-such-task", "deleted": False}
    answer = client.post("/luma/tasks", json={"action": "delete", "id": submit_ace(client, "luma")})
    assert answer.status_code == 400 and "'retrieve', 'retrieve_batch'" in error_of(answer)["message"]


# ------------------------------------------------------------------------------------------------
# Media files
# ------------------------------------------------------------------------------------------------


def test_download_is_a_real_mp4(emu, client, anon):
    task_id = submit_ace(client, "luma")
    video_url = f"{emu.url}/files/{task_id}.mp4"
    assert anon.get(video_url).status_code == 404  # not generated yet
    response = wait_terminal(client, "luma", task_id)["response"]
    assert response["video_url"] == video_url
    video = anon.get(video_url)  # no token needed, like a CDN
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(video.content) < 100_000
    assert video.content[4:8] == b"ftyp"
    head = anon.head(video_url)
    assert head.status_code == 200 and head.headers["content-length"] == video.headers["content-length"]
    assert head.content == b""
    thumb = anon.get(response["thumbnail_url"])
    assert thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    assert anon.get(f"{emu.url}/files/nope.mp4").status_code == 404
    assert emu.stats()["counts"]["download"] == 5


def test_hidream_watermarked_file(emu, client, anon):
    task_id = submit_hidream(client, "txt2video")
    sub = wait_hidream(client, "txt2video", task_id)["sub_task_results"][0]
    for url in (sub["video"], sub["video_wm"]):
        answer = anon.get(url)
        assert answer.status_code == 200 and answer.content[4:8] == b"ftyp"
    assert emu.stats()["by_vendor"]["hidream"]["download"] == 2


def test_failed_task_has_no_file(emu, client, anon):
    task_id = submit_ace(client, "hailuo", with_marker(ACE_BODIES["hailuo"], "[fail]"))
    wait_terminal(client, "hailuo", task_id)
    assert anon.get(f"{emu.url}/files/{task_id}.mp4").status_code == 404


# ------------------------------------------------------------------------------------------------
# Callbacks
# ------------------------------------------------------------------------------------------------


def test_callbacks_are_really_posted(emu, client):
    with Receiver() as receiver:
        ace_id = submit_ace(client, "hailuo", callback_url=receiver.url("ace"))
        hd_body = {**HIDREAM_BODIES["txt2video"], "notify_url": receiver.url("hidream")}
        hd_id = submit_hidream(client, "txt2video", hd_body)
        deadline = time.monotonic() + 5
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        got = dict(receiver.received)
    assert set(got) == {"/ace", "/hidream"}
    assert got["/ace"] == retrieve_ace(client, "hailuo", ace_id)["response"]  # the final response body
    assert got["/hidream"] == {
        "main_task_id": hd_id,
        "sub_task_results": retrieve_hidream(client, "txt2video", hd_id)["sub_task_results"],
    }
    assert emu.stats()["counts"]["callback"] == 2 and emu.stats()["counts"]["callback_failed"] == 0
    assert len(emu.delivered_callbacks()) == 2  # both final callbacks answered 2xx


def test_failed_callbacks_are_counted(emu, client):
    """One final callback each (Hailuo): answered 500 is refused, nothing listening is failed."""
    with Receiver(status=500) as receiver:
        submit_ace(client, "hailuo", callback_url=receiver.url("ace"))
        deadline = time.monotonic() + 5
        while not emu.stats()["counts"]["callback_refused"] and time.monotonic() < deadline:
            time.sleep(0.05)
    submit_ace(client, "hailuo", callback_url="http://127.0.0.1:9/refused")  # nothing listens on port 9
    deadline = time.monotonic() + 5
    while not emu.stats()["counts"]["callback_failed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    counts = emu.stats()["counts"]
    assert (counts["callback"], counts["callback_refused"], counts["callback_failed"]) == (2, 1, 1)
    assert emu.delivered_callbacks() == {}  # an answer other than 2xx is no delivery


def test_builtin_callback_receiver(emu, client):
    submit_ace(client, "wan", callback_url=emu.callback_url + "/mine")
    deadline = time.monotonic() + 5
    while not emu.callbacks() and time.monotonic() < deadline:
        time.sleep(0.05)
    [received] = emu.callbacks()
    assert received["path"] == "/_emulator/callbacks/mine" and received["body"]["state"] == "completed"


# ------------------------------------------------------------------------------------------------
# Counters and control endpoints
# ------------------------------------------------------------------------------------------------


def test_counters_count_every_request_by_kind(emu, client):
    first, second = submit_ace(client, "hailuo"), submit_ace(client, "sora")
    hd = submit_hidream(client, "txt2video")
    retrieve_ace(client, "hailuo", first)
    retrieve_ace(client, "sora", second)
    client.post("/hailuo/tasks", json={"action": "retrieve_batch", "ids": [first, "x", "y"]})
    retrieve_hidream(client, "txt2video", hd)
    client.post(HIDREAM.services["txt2video"].poll_path + "/batch", json={"task_id_list": [hd, "z"]})
    stats = client.get("/_emulator/stats").json()
    assert stats == emu.stats()
    assert stats["tasks"] == 3 and stats["ids_polled"] == 2 + 3 + 1 + 2
    counts = stats["counts"]
    assert (counts["submit"], counts["retrieve"], counts["retrieve_batch"]) == (3, 3, 2)
    assert stats["by_vendor"]["acedata"]["submit"] == 2 and stats["by_vendor"]["hidream"]["submit"] == 1
    assert stats["by_vendor"]["hidream"]["retrieve_batch"] == 1
    assert set(counts) >= {
        "submit",
        "retrieve",
        "retrieve_batch",
        "download",
        "callback",
        "rejected_auth",
        "rate_limited",
        "fault",
    }

    assert client.post("/_emulator/reset").json() == {"ok": True}
    stats = emu.stats()
    assert stats["tasks"] == 0 and stats["ids_polled"] == 0 and not any(stats["counts"].values())
    assert retrieve_ace(client, "hailuo", first) == {}


def test_config_endpoint(emu, anon):
    answer = anon.post("/_emulator/config", json={"latency": 0.01, "rate_limit": 50})
    assert answer.status_code == 200 and answer.json()["rate_limit"] == 50 and "token" not in answer.json()
    assert emu.state.config.latency == 0.01
    assert anon.post("/_emulator/config", json={"bogus": 1}).status_code == 400
    assert anon.post("/_emulator/config", json={"drop_rate": 2}).status_code == 400
    assert anon.get("/_emulator/config").json()["latency"] == 0.01


def test_clock_endpoint_moves_the_clock_forward_only(emu, client, anon):
    emu.configure(queued_seconds=0, running_seconds=3600)
    task_id = submit_ace(client, "hailuo")
    assert retrieve_ace(client, "hailuo", task_id)["response"]["data"][0]["state"] != "succeeded"
    assert anon.post("/_emulator/clock", json={"advance": 3600}).json() == {"ok": True}
    assert retrieve_ace(client, "hailuo", task_id)["response"]["data"][0]["state"] == "succeeded"
    for bad in ({"advance": -1}, {"advance": True}, {"advance": "60"}, {"advance": 1e30}, {}, [60]):
        answer = anon.post("/_emulator/clock", json=bad)
        assert answer.status_code == 400 and "advance" in answer.json()["error"], bad


# ------------------------------------------------------------------------------------------------
# Validation, rate limit and faults
# ------------------------------------------------------------------------------------------------


def test_validation_error_creates_nothing(emu, client):
    answer = client.post("/kling/videos", json={"action": "text2video", "async": True})  # prompt missing
    assert answer.status_code == 400
    error = error_of(answer)
    with pytest.raises(InvalidInputError) as expected:  # the very text of the provider's own validation
        validate_body(ACEDATA.services["kling"], {"action": "text2video"})
    assert error == {"code": "bad_request", "message": str(expected.value)}
    answer = client.post("/hailuo/videos", json={"prompt": "x", "colour": "red", "async": True})
    assert answer.status_code == 400 and error_of(answer)["message"].startswith("colour: is not a field")
    answer = client.post(HIDREAM.services["video_edit"].submit_path, json={"video_name": "https://a.example/v.mp4"})
    assert answer.status_code == 200 and answer.json()["code"] == 1002 and "prompt or style" in answer.json()["message"]
    stats = emu.stats()
    assert stats["tasks"] == 0 and stats["counts"]["submit"] == 3


def test_rate_limit_gives_429_with_retry_after(emu, client):
    emu.hold_clock()  # every request below falls in one window, however slow the machine
    emu.configure(rate_limit=3)
    statuses = [client.post("/hailuo/tasks", json={"id": "x"}) for _ in range(5)]
    assert [answer.status_code for answer in statuses] == [200, 200, 200, 429, 429]
    limited = statuses[-1]
    assert error_of(limited)["code"] == "too_many_requests"
    assert int(limited.headers["retry-after"]) >= 1
    hd = client.get(HIDREAM.services["txt2video"].poll_path, params={"task_id": "x"})
    assert hd.status_code == 429 and "retry-after" in hd.headers  # the same token, the same window
    assert emu.stats()["counts"]["rate_limited"] == 3
    emu.advance(1.0)
    assert client.post("/hailuo/tasks", json={"id": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("setting", "status", "code"),
    [("fail_429_rate", 429, "too_many_requests"), ("fail_500_rate", 500, "api_error"), ("fail_502_rate", 502, None)],
)
def test_http_faults_create_nothing(emu, client, setting, status, code):
    emu.configure(**{setting: 1.0})
    answer = client.post("/hailuo/videos", json={**ACE_BODIES["hailuo"], "async": True})
    assert answer.status_code == status
    if code:
        assert error_of(answer)["code"] == code
    else:
        assert answer.headers["content-type"].startswith("text/html")
        with pytest.raises(ValueError):
            answer.json()
    if status == 429:
        assert int(answer.headers["retry-after"]) >= 1
    hd = client.post(HIDREAM.services["txt2video"].submit_path, json=HIDREAM_BODIES["txt2video"])
    assert hd.status_code == status
    if status == 500:
        assert hd.json()["code"] != 0
    # faults never touch the control endpoints or the files
    assert client.get("/_emulator/stats").status_code == 200
    stats = emu.stats()
    assert stats["tasks"] == 0 and stats["counts"]["fault"] == 2 and stats["counts"]["submit"] == 2


def test_drop_closes_the_connection_and_creates_nothing(emu, client):
    emu.configure(drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        client.post("/hailuo/videos", json={**ACE_BODIES["hailuo"], "async": True})
    with pytest.raises(httpx.TransportError):
        client.get(HIDREAM.services["txt2video"].poll_path, params={"task_id": "x"})
    stats = emu.stats()
    assert stats["tasks"] == 0 and stats["counts"]["fault"] == 2


def test_ambiguous_submit_creates_the_task_then_drops(emu, client):
    emu.configure(ambiguous_submit_rate=1.0)
    with pytest.raises(httpx.TransportError):
        client.post("/hailuo/videos", json={**ACE_BODIES["hailuo"], "async": True})
    with pytest.raises(httpx.TransportError):
        client.post(HIDREAM.services["txt2video"].submit_path, json=HIDREAM_BODIES["txt2video"])
    assert client.post("/hailuo/tasks", json={"id": "x"}).status_code == 200  # polls are not affected
    stats = emu.stats()
    assert stats["tasks"] == 2 and stats["counts"]["fault"] == 2
    [ace_task] = [task for task in emu.state.tasks.values() if task.vendor == "acedata"]
    assert retrieve_ace(client, "hailuo", ace_task.id)["id"] == ace_task.id  # it exists and can be found


def test_latency_is_added(emu, client):
    emu.configure(latency=0.25)
    started = time.monotonic()
    client.post("/hailuo/tasks", json={"id": "x"})
    assert time.monotonic() - started >= 0.25


def test_submit_hold_keeps_the_answer_of_a_created_task(emu, client):
    """The task exists (and is paid for) while its id is still on the way: a worker killed now never learns it."""
    import concurrent.futures

    emu.configure(submit_hold_seconds=1.0)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        answer = pool.submit(client.post, "/hailuo/videos", json={**ACE_BODIES["hailuo"], "async": True})
        deadline = started + 5
        while emu.stats()["tasks_created"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emu.stats()["tasks_created"] == 1 and not answer.done()  # created, not answered yet
        [task] = emu.state.tasks.values()
        assert answer.result(timeout=5).json()["task_id"] == task.id
        assert time.monotonic() - started >= 1.0
    with pytest.raises(ValueError):
        EmulatorConfig(submit_hold_seconds=-1)


def test_faults_are_reproducible_with_a_seed(emu, client):
    def run() -> list[int]:
        emu.reset()
        return [client.post("/hailuo/tasks", json={"id": "x"}).status_code for _ in range(20)]

    emu.configure(seed=7, fail_500_rate=0.5)
    first = run()
    assert first == run() and {200, 500} == set(first)


# ------------------------------------------------------------------------------------------------
# App, config and CLI
# ------------------------------------------------------------------------------------------------


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        EmulatorConfig(drop_rate=1.5)
    with pytest.raises(ValueError):
        EmulatorConfig(fail_429_rate=0.6, fail_500_rate=0.6)
    with pytest.raises(ValueError):
        EmulatorConfig().updated({"nope": 1})
    assert create_app(EmulatorConfig(), token="x").state.emulator.config.token == "x"


def test_cli_serves_until_sigterm(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_vidgen.emulator",
            "--port",
            "0",
            "--token",
            "T",
            "--log-level",
            "error",
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = httpx.post(
                    f"{url}/hailuo/tasks", json={"id": "x"}, headers={"authorization": "Bearer T"}, trust_env=False
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.status_code == 200 and answer.json() == {}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_every_rows_record_words_parse_as_meant():
    """The row's words drive both the emulator's records and the reading; each means what it should even
    where the reading falls back to the words every service uses."""
    for words in {spec.words for spec in ACEDATA.services.values()}:
        assert words.success in acedata_words.SUCCESS_WORDS and words.failure in acedata_words.FAILURE_WORDS, words
        assert words.running not in acedata_words.SUCCESS_WORDS | acedata_words.FAILURE_WORDS, words  # read as running
