"""Emulated tasks: lifecycle computed lazily from timestamps, and the vendors' answer bodies.

Nothing here does I/O. Which path, shape, status word and state key a service uses comes from
the provider's own tables (``core.acedata.SERVICES`` / ``core.hidream.SERVICES``), so the emulator
and the provider agree by construction; the per-service extras below only dress the bodies like
the fixtures in ``/work/shared/fixtures``.
"""

from __future__ import annotations

import base64
import functools
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vidgen.core import acedata, hidream
from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.emulator.records import record_words

QUEUED, RUNNING, TERMINAL = "queued", "running", "terminal"

# Outcomes chosen by markers in the prompt (``prompt`` or ``content[].text``).
SUCCESS, FAIL, REJECT, NOURL = "success", "fail", "reject", "nourl"
MARKERS = ("[fail]", "[reject]", "[slow]", "[nourl]")
SLOW_FACTOR = 3.0

# What sample.mp4 really is (generated with ffmpeg testsrc: 1 s, 160x90, H.264, 12 fps).
SAMPLE_WIDTH, SAMPLE_HEIGHT, SAMPLE_DURATION = 160, 90, 1.0

FAIL_ERROR = {"code": "api_error", "message": "generation failed upstream (emulated [fail])"}
REJECT_ERROR = {
    "code": "content_policy_violation",
    "message": "the request was rejected by content moderation (emulated [reject])",
}
# Services whose [fail] answer has no finished_at (fixture hailuo/task_failed_structured_error.json).
FAIL_WITHOUT_FINISHED_AT = frozenset({"hailuo"})

# Record dressing per Ace Data service (API_CONTRACT.md §1.4.2); not behaviour, just realism.
API_IDS = {
    "hailuo": "d5af91f6-a7ec-4015-b0a5-d25051158470",
    "luma": "94fc9028-5a9f-4875-aae4-38463bd30ac5",
    "kling": "29187cb2-1acb-43b8-baf5-3f3f709292eb",
    "kling-motion": "2c26cb33-46ac-4bd7-82f9-0ec63e688172",
    "sora": "54aed96c-0346-4227-8c99-9780247a7ffd",
    "veo": "52a0fa83-3c78-4793-b45a-c1a5c869ae46",
    "veo-extend": "52a0fa83-3c78-4793-b45a-c1a5c869ae46",
    "veo-upsample": "52a0fa83-3c78-4793-b45a-c1a5c869ae46",
    "seedance": "0083b874-4da6-40df-87e3-835b1300c1e8",
    "wan": "6a4ecdbf-b219-4505-8277-5ec4b1ac14f8",
    "happyhorse": "d656e357-50cb-4390-b8c9-67464bc2a2f2",
}
RECORD_TYPES = {
    "gemini": "videos",
    "kling": "videos",
    "kling-motion": "motion",
    "sora": "videos",
    "veo": "videos",
    "veo-extend": "videos",
    "veo-upsample": "videos",
    "seedance": "videos",
    "wan": "videos",
    "happyhorse": "videos",
}
JOB_ID_SERVICES = frozenset({"kling", "kling-motion", "wan"})
_NAMESPACE = uuid.UUID("5b7e1c1e-8d0f-4d7e-9a53-6c1f0e3a7b21")


def _base36(length: int) -> str:
    number = int.from_bytes(os.urandom(20), "big")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(length):
        number, rest = divmod(number, 36)
        out.append(digits[rest])
    return "".join(out)


@functools.lru_cache(maxsize=64)
def account_ids(token: str) -> dict[str, str]:
    """Stable per-token ids (the platform derives them from the account owning the token)."""
    return {
        "application_id": str(uuid.uuid5(_NAMESPACE, "application:" + token)),
        "credential_id": str(uuid.uuid5(_NAMESPACE, "credential:" + token)),
        "user_id": str(uuid.uuid5(_NAMESPACE, "user:" + token)),
    }


def prompt_text(body: Mapping[str, Any]) -> str:
    """The text the markers are looked for in: ``prompt`` and every ``content[].text``."""
    texts = []
    if isinstance(body.get("prompt"), str):
        texts.append(body["prompt"])
    content = body.get("content")
    if isinstance(content, list):
        texts.extend(item["text"] for item in content if isinstance(item, dict) and isinstance(item.get("text"), str))
    return " ".join(texts).lower()


def choose_outcome(body: Mapping[str, Any]) -> tuple[str, float]:
    """(outcome, time factor) from the markers; precedence reject > fail > nourl > success."""
    text = prompt_text(body)
    factor = SLOW_FACTOR if "[slow]" in text else 1.0
    for marker, outcome in (("[reject]", REJECT), ("[fail]", FAIL), ("[nourl]", NOURL)):
        if marker in text:
            return outcome, factor
    return SUCCESS, factor


@dataclass(eq=False)
class Task:
    id: str
    spec: ServiceSpec
    request: dict[str, Any]  # the body as submitted (stored like the platform's ``request``)
    outcome: str
    base_url: str  # media URLs are built from this
    t0: float  # the emulator clock at submission; the lifecycle is computed from it
    created_at: float  # wall clock, what the records show
    queued: float
    running: float
    token: str
    callback_url: str | None = None
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    item_id: str = ""
    sub_task_id: str = ""
    _final: Any = field(default=None, repr=False)  # terminal answers never change: cached

    @property
    def vendor(self) -> str:
        return self.spec.vendor

    @property
    def finish_mono(self) -> float:
        return self.t0 + self.queued + self.running

    @property
    def finished_at(self) -> float:
        return round(self.created_at + self.queued + self.running, 3)

    @property
    def started_at(self) -> float:
        return round(self.created_at + min(0.061, self.queued), 3)

    def phase(self, now: float) -> tuple[str, float]:
        """(phase, fraction of that phase elapsed) at monotonic time ``now``."""
        elapsed = now - self.t0
        if elapsed < self.queued:
            return QUEUED, elapsed / self.queued
        elapsed -= self.queued
        if elapsed < self.running:
            return RUNNING, elapsed / self.running
        return TERMINAL, 1.0

    def terminal(self, now: float) -> bool:
        return now >= self.finish_mono

    @property
    def has_video(self) -> bool:
        return self.outcome == SUCCESS

    def media_url(self, suffix: str) -> str:
        return f"{self.base_url}/files/{self.id}{suffix}"


def new_task(
    spec: ServiceSpec,
    body: Mapping[str, Any],
    *,
    token: str,
    base_url: str,
    queued: float,
    running: float,
    callback_url: str | None,
    now: float,
) -> Task:
    outcome, factor = choose_outcome(body)
    task = Task(
        id=str(uuid.uuid4()),
        spec=spec,
        request=dict(body),
        outcome=outcome,
        base_url=base_url.rstrip("/"),
        t0=now,
        created_at=round(time.time(), 3),
        queued=queued * factor,
        running=running * factor,
        token=token,
        callback_url=callback_url,
    )
    task.item_id = _item_id(task)
    task.sub_task_id = str(uuid.uuid4())
    return task


def _item_id(task: Task) -> str:
    name = task.spec.name
    if name == "hailuo":
        return _base36(26)
    if name == "sora":
        return f"{task.request.get('model', 'sora-2')}:task_{_base36(26)}"
    if name.startswith("veo"):
        return uuid.uuid4().hex
    if name == "seedance":
        return f"cgt-{time.strftime('%Y%m%d%H%M%S', time.gmtime(task.created_at))}-{_base36(5)}"
    if name in ("luma", "kling", "kling-motion"):  # the flat shapes' video_id
        return str(uuid.uuid4()) if name == "luma" else str(int.from_bytes(os.urandom(7), "big"))
    if name == "midjourney":  # a 16-digit video_id, e.g. "1751816807896311"
        return str(10**15 + int.from_bytes(os.urandom(7), "big") % (9 * 10**15))
    if name == "flux":  # the Docs example's data[0].id is the task id
        return task.id
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------------
# Ace Data Cloud bodies
# --------------------------------------------------------------------------------------------


def ace_record(task: Task, now: float) -> dict[str, Any]:
    """The detailed task record ``retrieve`` answers (MiniMax: ``{"task": {...}}``)."""
    if task.spec.response_shape == "task":
        return {"task": minimax_task(task, now)}
    phase, fraction = task.phase(now)
    if phase == TERMINAL and task._final is not None:
        return task._final
    record: dict[str, Any] = {
        "_id": uuid.UUID(task.id).hex[:24],
        "id": task.id,
        "api_id": API_IDS.get(task.spec.name) or str(uuid.uuid5(_NAMESPACE, "api:" + task.spec.name)),
        "application_id": "",
        "created_at": task.created_at,
        "credential_id": "",
        "request": task.request,
        "trace_id": task.trace_id,
        "user_id": "",
    }
    record.update(account_ids(task.token))
    if task.spec.name in RECORD_TYPES:
        record["type"] = RECORD_TYPES[task.spec.name]
    if phase != QUEUED and task.spec.name in JOB_ID_SERVICES:
        record["job_id"] = (
            str(uuid.uuid5(_NAMESPACE, task.id))
            if task.spec.name == "wan"
            else base64.urlsafe_b64encode(uuid.uuid5(_NAMESPACE, task.id).bytes).decode()[:22]
        )
    record["started_at"] = task.started_at
    if phase == QUEUED:
        return record  # no response, no finished_at yet
    record["response"] = ace_response(task, terminal=phase == TERMINAL, fraction=fraction)
    if phase == TERMINAL:
        if not (task.outcome == FAIL and task.spec.name in FAIL_WITHOUT_FINISHED_AT):
            record["finished_at"] = task.finished_at
            record["elapsed"] = round(task.finished_at - task.started_at, 3)
        task._final = record
    return record


def ace_batch_item(task: Task, now: float) -> dict[str, Any]:
    """One ``items`` entry of ``retrieve_batch``: the record; MiniMax lists bare task objects."""
    if task.spec.response_shape == "task":
        return minimax_task(task, now)
    return ace_record(task, now)


def ace_final_body(task: Task) -> dict[str, Any]:
    """What a blocking submission answers and a callback POSTs: the terminal ``response``."""
    if task.spec.response_shape == "task":
        return {"task": minimax_task(task, task.finish_mono)}
    return ace_response(task, terminal=True)


def ace_response(task: Task, *, terminal: bool, fraction: float = 1.0) -> dict[str, Any]:
    spec, words = task.spec, record_words(task.spec)
    error = None
    if not terminal:
        word = words.running
    elif task.outcome in (SUCCESS, NOURL):
        word = words.success
    else:
        word = words.failure
        error = dict(REJECT_ERROR if task.outcome == REJECT else FAIL_ERROR)
    video_url = task.media_url(".mp4") if terminal and task.has_video else None
    if error and task.outcome == FAIL and spec.name in FAIL_WITHOUT_FINISHED_AT:
        # Hailuo's structured failure: no data, no state word, no finished_at on the record.
        return {"success": False, "task_id": task.id, "trace_id": task.trace_id, "error": error}
    if words.state_key is None and (error or not terminal):
        # No state word (Flux, Midjourney): a failure is the error envelope (Docs flux_generate_video);
        # while running, a bare success flag, plus Midjourney's 0-100 progress.
        body: dict[str, Any] = {"success": error is None, "task_id": task.id}
        if error:
            body["error"] = error
        elif spec.name == "midjourney":
            body["progress"] = max(1, min(99, int(fraction * 100)))
        return body
    if spec.response_shape == "flat":
        return _flat_response(task, word, video_url, terminal, error)
    body = {"success": error is None, "task_id": task.id, "trace_id": task.trace_id}
    if error:
        body["error"] = error
    item = _data_item(task, word, video_url, terminal, error is not None)
    # Dreamina answers one object (fixture dreamina/generate_sync_response_done.json), not a list.
    body["data"] = item if spec.response_shape == "data_object" else [item]
    return body


def _data_item(task: Task, word: str, video_url: str | None, terminal: bool, failed: bool) -> dict[str, Any]:
    spec, req, key = task.spec, task.request, record_words(task.spec).state_key
    name = spec.name
    item: dict[str, Any] = {"id": task.item_id}
    if name == "hailuo":
        item["model"] = req.get("model", spec.defaults.get("model"))
        item["prompt"] = req.get("prompt")
        if terminal and not failed:
            item["first_image_url"] = req.get("first_image_url")
        if video_url:
            item["video_url"] = video_url
        item[key] = word
    elif name == "seedance":
        if terminal and not failed:
            item["model"] = req.get("model")
            item[key] = word
            if video_url:
                item["content"] = {"video_url": video_url}
            item.update(
                seed=req.get("seed", 10),
                resolution=req.get("resolution", "720p"),
                ratio=req.get("ratio", "16:9"),
                duration=int(SAMPLE_DURATION),
                framespersecond=12,
                execution_expires_after=req.get("execution_expires_after", 172800),
                usage={"completion_tokens": 1080, "total_tokens": 1080},
                created_at=int(task.created_at),
                updated_at=int(task.finished_at),
            )
        else:
            item[key] = word
    elif name == "happyhorse":
        item["video_url"] = video_url
        item[key] = word
        item.update(
            duration=req.get("duration", 5),
            resolution=req.get("resolution", "1080P"),
            ratio=req.get("ratio", "16:9") if terminal else req.get("ratio"),
        )
    elif name == "gemini":  # video_url is null while pending (Docs gemini_videos)
        item.update(video_url=video_url, state=word, aspect_ratio=req.get("aspect_ratio", "16:9"))
        item["prompt"] = req.get("prompt")
    elif name == "flux":  # no state word: the video and what the server measured of it
        item["model"] = req.get("model", "flux-3")
        if video_url:
            item["video_url"] = video_url
        item.update(seconds=SAMPLE_DURATION, width=SAMPLE_WIDTH, height=SAMPLE_HEIGHT, fps=12)
        if req.get("draft"):
            item["draft_task_id"] = task.id
    elif spec.response_shape == "data_object":  # dreamina
        item = {key: word, "task_id": task.item_id.replace("-", "")}
        item.update({k: req[k] for k in ("audio_url", "image_url") if k in req})
        if video_url:
            item["video_url"] = video_url
    else:  # sora, veo and its siblings, grok, maestro and any other data_list service
        if video_url:
            item["video_url"] = video_url
        if name.startswith("veo") and terminal and not failed:
            item["created_at"] = _clock(task.created_at)
            item["complete_at"] = _clock(task.finished_at)
        item[key] = word
    return item


def _flat_response(
    task: Task, word: str, video_url: str | None, terminal: bool, error: dict[str, str] | None
) -> dict[str, Any]:
    name, key = task.spec.name, record_words(task.spec).state_key
    kling = name.startswith("kling")
    body: dict[str, Any] = {}
    if terminal or not kling:  # kling's running answer has no success flag (fixture)
        body["success"] = error is None
    body["task_id"] = task.id
    if error:
        body["trace_id"] = task.trace_id
        body["error"] = error
        body[key] = word
        return body
    if not terminal:
        body[key] = word
        return body
    if name == "midjourney":  # Docs midjourney_videos: a cover image and four videos, no state word
        if video_url:
            body.update(image_url=task.media_url(".jpg"), image_width=SAMPLE_WIDTH, image_height=SAMPLE_HEIGHT)
        body.update(progress=100, video_id=task.item_id)
        body["video_urls"] = [video_url, *(task.media_url(f"_{n}.mp4") for n in (1, 2, 3))] if video_url else []
    elif name == "luma":
        body.update(video_id=task.item_id, prompt=task.request.get("prompt"))
        if video_url:
            body.update(video_url=video_url, video_height=SAMPLE_HEIGHT, video_width=SAMPLE_WIDTH)
        body[key] = word
        if video_url:
            body.update(
                thumbnail_url=task.media_url(".jpg"), thumbnail_width=SAMPLE_WIDTH, thumbnail_height=SAMPLE_HEIGHT
            )
    elif kling:
        body["video_id"] = task.item_id
        if video_url:
            body["video_url"] = video_url
        body["duration"] = f"{SAMPLE_DURATION:.3f}"
        body[key] = word
    else:  # wan
        body[key] = word
        if video_url:
            body["video_url"] = video_url
    return body


def minimax_task(task: Task, now: float) -> dict[str, Any]:
    """MiniMax H3's task object (``status`` queued -> running -> succeeded | failed)."""
    phase, _ = task.phase(now)
    if phase == TERMINAL and task._final is not None:
        return task._final
    req, spec = task.request, task.spec
    if phase == QUEUED:
        status = "queued"
    elif phase == RUNNING:
        status = record_words(spec).running
    else:
        words = record_words(spec)
        status = words.success if task.outcome in (SUCCESS, NOURL) else words.failure
    updated = task.finished_at if phase == TERMINAL else min(task.created_at + (now - task.t0), task.finished_at)
    body: dict[str, Any] = {
        "id": task.id,
        "model": req.get("model", "MiniMax-H3"),
        "status": status,
        "created_at": int(task.created_at),
        "updated_at": int(updated),
        "task_type": "generation",
        "modality": "video",
        "resolution": req.get("resolution", "768P"),
        "duration": req.get("duration", 4),
        "ratio": req.get("ratio", "16:9"),
    }
    if phase == TERMINAL:
        if task.outcome == SUCCESS:
            body["content"] = {"url": task.media_url(".mp4")}
        if task.outcome in (SUCCESS, NOURL):
            images = sum(
                1 for item in req.get("content") or () if isinstance(item, dict) and item.get("type") == "image_url"
            )
            body["usage"] = {
                "total_seconds": body["duration"],
                "input_seconds": 0,
                "output_seconds": body["duration"],
                "input_image_count": images,
            }
        else:
            body["error"] = dict(REJECT_ERROR if task.outcome == REJECT else FAIL_ERROR)
        task._final = body
    return body


def _clock(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


# --------------------------------------------------------------------------------------------
# HiDream bodies
# --------------------------------------------------------------------------------------------


def hidream_record(task: Task, now: float) -> dict[str, Any]:
    """``{task_id, sub_task_results}``: empty list for the first half of the queue time, then one
    sub-task with ``task_status`` 0 (waiting), 2 (processing, rising ``task_completion``) and
    finally 1 (done, with ``video``/``video_wm``), 3 (``[fail]``) or 4 (``[reject]``)."""
    phase, fraction = task.phase(now)
    if phase == TERMINAL and task._final is not None:
        return task._final
    if phase == QUEUED and fraction < 0.5:
        return {"task_id": task.id, "sub_task_results": []}
    video = video_wm = ""
    if phase == QUEUED:
        status, completion = hidream.WAITING, 0.0
    elif phase == RUNNING:
        status, completion = hidream.PROCESSING, round(min(0.99, max(0.01, fraction)), 2)
    elif task.outcome in (SUCCESS, NOURL):
        status, completion = hidream.DONE, 1.0
        if task.outcome == SUCCESS:
            video, video_wm = task.media_url(".mp4"), task.media_url("_wm.mp4")
    else:
        status, completion = (hidream.REJECTED if task.outcome == REJECT else hidream.FAILED), 0.0
    sub = {
        "sub_task_id": task.sub_task_id,
        "task_status": status,
        "task_completion": completion,
        "video": video,
        "video_wm": video_wm,
    }
    record = {"task_id": task.id, "sub_task_results": [sub]}
    if phase == TERMINAL:
        task._final = record
    return record


def hidream_notify_body(task: Task) -> dict[str, Any]:
    return {"main_task_id": task.id, "sub_task_results": hidream_record(task, task.finish_mono)["sub_task_results"]}


# --------------------------------------------------------------------------------------------
# Routing tables derived from the core
# --------------------------------------------------------------------------------------------

ACE_SUBMIT = {spec.submit_path: spec for spec in acedata.SERVICES.values()}
ACE_POLL = {spec.poll_path: spec for spec in acedata.SERVICES.values()}  # one spec per task family
HIDREAM_SUBMIT = {spec.submit_path: spec for spec in hidream.SERVICES.values()}
HIDREAM_POLL = {spec.poll_path: spec for spec in hidream.SERVICES.values()}
