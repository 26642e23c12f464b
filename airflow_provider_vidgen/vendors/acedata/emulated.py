"""The emulator's face of Ace Data Cloud: its envelopes, its routes and its task records.

Submissions are ``POST <service>/videos`` (validated with the provider's own rows), polls ``POST
<family>/tasks`` with ``retrieve``, ``retrieve_batch`` (by ids, or by creation time: this token's tasks,
newest first, ``offset``/``limit``, ``count`` = every match) and MiniMax's ``delete``. Unknown ids answer
HTTP 200 ``{}`` (or 404 ``not_found`` with ``unknown_404``). Which shape, state word and key each
service's records use comes from its row; the per-service extras below only dress the bodies like the
fixtures in the steering repository's ``shared/fixtures``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_vidgen.core.schema import ServiceSpec, Shape
from airflow_provider_vidgen.emulator.face import NOT_JSON, Emulated, VendorFace
from airflow_provider_vidgen.emulator.tasks import (
    CANCELLED,
    FAIL,
    FAIL_ERROR,
    NOURL,
    QUEUED,
    REJECT,
    REJECT_ERROR,
    RUNNING,
    SAMPLE_DURATION,
    SAMPLE_HEIGHT,
    SAMPLE_WIDTH,
    SUCCESS,
    TERMINAL,
    Task,
    base36,
)

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
# Kickart's data.usage is a plain number; these are the spec's three examples (Docs openapi/kickart.json).
KICKART_USAGE = {"kickart": 0.21, "kickart-viral": 1.75, "kickart-template": 0.36}


_NAMESPACE = uuid.UUID("5b7e1c1e-8d0f-4d7e-9a53-6c1f0e3a7b21")


@functools.lru_cache(maxsize=64)
def account_ids(token: str) -> dict[str, str]:
    """Stable per-token ids (the platform derives them from the account owning the token)."""
    return {
        "application_id": str(uuid.uuid5(_NAMESPACE, "application:" + token)),
        "credential_id": str(uuid.uuid5(_NAMESPACE, "credential:" + token)),
        "user_id": str(uuid.uuid5(_NAMESPACE, "user:" + token)),
    }


def item_id(task: Task) -> str:
    name = task.spec.name
    if name == "hailuo":
        return base36(26)
    if name == "sora":
        return f"{task.request.get('model', 'sora-2')}:task_{base36(26)}"
    if name.startswith("veo"):
        return uuid.uuid4().hex
    if name == "seedance":
        return f"cgt-{time.strftime('%Y%m%d%H%M%S', time.gmtime(task.created_at))}-{base36(5)}"
    if name in ("luma", "kling", "kling-motion"):  # the flat shapes' video_id
        return str(uuid.uuid4()) if name == "luma" else str(int.from_bytes(os.urandom(7), "big"))
    if name == "midjourney":  # a 16-digit video_id, e.g. "1751816807896311"
        return str(10**15 + int.from_bytes(os.urandom(7), "big") % (9 * 10**15))
    if name == "flux":  # the Docs example's data[0].id is the task id
        return task.id
    return str(uuid.uuid4())


class AceDataFace(VendorFace):
    """Ace Data Cloud on the wire."""

    def authenticate(self, request: Request, tokens: frozenset[str]) -> tuple[str, Response | None]:
        header = request.headers.get("authorization", "").strip()
        scheme, _, token = header.partition(" ")
        if not header:
            return "", self.error(400, "no_token", "No token provided; send 'authorization: Bearer <token>'.")
        if scheme.lower() != "bearer" or token.strip() not in tokens:
            return "", self.error(401, "invalid_token", "The token is invalid.")
        return token.strip(), None

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {"success": False, "error": {"code": code, "message": message}, "trace_id": str(uuid.uuid4())}
        return JSONResponse(body, status_code=status, headers=headers)

    def used_up(self) -> Response:
        """HTTP 403 used_up, not billed (API_CONTRACT §1.3; Docs en/faq/billing.mdx)."""
        return self.error(403, "used_up", "Your balance is not sufficient for current request.")

    def not_found(self, path: str, status: int) -> Response:
        if status == 405:
            return self.error(405, "method_not_allowed", "This method is not allowed here.")
        return self.error(404, "no_api", f"No API at {path}.")

    def owns(self, path: str) -> bool:
        return not path.startswith("/api-pub/")  # everything else is Ace Data's (its paths are /<service>/...)

    def item_id(self, task: Task) -> str:
        return item_id(task)

    def callback_moments(self, task: Task) -> list[tuple[float, bool]]:
        """Luma calls back at every state change; the others once, when the task is final."""
        if task.spec.name == "luma":
            return [(0.0, False), (task.queued, False), (task.queued + task.running, True)]
        return super().callback_moments(task)

    def callback_body(self, task: Task, moment: float) -> dict[str, Any]:
        if moment >= task.queued + task.running:
            return final_body(task)
        running = moment >= task.queued
        return (
            response_body(task, terminal=False, fraction=0.5) if running else {"task_id": task.id, "state": "pending"}
        )

    def routes(self, api: Emulated) -> list[Route]:
        submit = {spec.submit_path: spec for spec in self.vendor.services.values()}
        poll = {spec.poll_path: spec for spec in self.vendor.services.values()}  # one spec per task family
        return [
            *(Route(path, self._submit_endpoint(api, spec), methods=["POST"]) for path, spec in submit.items()),
            *(Route(path, self._poll_endpoint(api, path, spec), methods=["POST"]) for path, spec in poll.items()),
        ]

    def _submit_endpoint(self, api: Emulated, spec: ServiceSpec) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await api.read_json(request)

            async def handle(token: str) -> Response:
                if not isinstance(body, dict):
                    return self.error(400, "bad_request", "body: must be a JSON object")
                payload = dict(body)
                async_flag = payload.pop("async", None)
                if async_flag is not None and not isinstance(async_flag, bool):
                    return self.error(400, "bad_request", f"async: must be true or false, got {async_flag!r}")
                problem = api.check(spec, payload)
                if problem:
                    return self.error(400, "bad_request", problem)
                callback_url = payload.get("callback_url") or None
                task = await api.accept(self.name, spec, body, token, request, callback_url)
                if isinstance(task, Response):
                    return task
                if async_flag or callback_url:
                    return JSONResponse({"task_id": task.id, "trace_id": task.trace_id})
                return await self._blocking_answer(api, task)

            return await api.guarded(request, self.name, "submit", handle, spec)

        return endpoint

    async def _blocking_answer(self, api: Emulated, task: Task) -> Response:
        """Synchronous mode: hold the request until the task is terminal, answer its final body."""
        remaining = task.finish_mono - api.state.clock()
        if remaining > api.config.sync_timeout:
            await asyncio.sleep(api.config.sync_timeout)
            return self.error(504, "timeout", "The request timed out before the task finished.")
        if remaining > 0:
            await asyncio.sleep(remaining)
        return JSONResponse(final_body(task))

    def _poll_endpoint(self, api: Emulated, poll_path: str, family: ServiceSpec) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await api.read_json(request)
            action = (body.get("action") or "retrieve") if isinstance(body, dict) else "retrieve"
            kind = action if action in ("retrieve", "retrieve_batch", "delete") else "retrieve"

            async def handle(token: str) -> Response:
                if not isinstance(body, dict) or body is NOT_JSON:
                    return self.error(400, "bad_request", "body: must be a JSON object")
                if action == "retrieve":
                    return self._retrieve(api, poll_path, body)
                if action == "retrieve_batch" and "ids" not in body:
                    return self._search(api, poll_path, family, body, token)
                if action == "retrieve_batch":
                    return self._retrieve_batch(api, poll_path, family, body)
                if action == "delete" and family.cancellable:
                    deleted, refused = api.state.delete(body.get("id"), poll_path)
                    if refused:  # the error body is not documented: the platform's usual 400 envelope
                        return self.error(400, "bad_request", refused)
                    return JSONResponse({"id": body.get("id"), "deleted": deleted})
                allowed = "'retrieve', 'retrieve_batch'" + (", 'delete'" if family.cancellable else "")
                return self.error(400, "bad_request", f"action: must be one of {allowed}; got {action!r}")

            return await api.guarded(request, self.name, kind, handle, family)

        return endpoint

    def _retrieve(self, api: Emulated, poll_path: str, body: dict[str, Any]) -> Response:
        task_id = body.get("id")
        if not isinstance(task_id, str) or not task_id:
            return self.error(400, "bad_request", "id: is required for action retrieve")
        api.state.ids_polled += 1
        task = api.state.lookup(task_id, poll_path)
        if task is None:
            if api.config.unknown_404:
                return self.error(404, "not_found", "The specified task was not found.")
            return JSONResponse({})
        return JSONResponse(record(task, api.state.clock()))

    def _retrieve_batch(self, api: Emulated, poll_path: str, family: ServiceSpec, body: dict[str, Any]) -> Response:
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return self.error(400, "bad_request", "ids: must be a non-empty list of task ids")
        if len(ids) > api.config.max_batch_ids:
            return self.error(400, "bad_request", f"ids: takes at most {api.config.max_batch_ids} ids, got {len(ids)}")
        api.state.ids_polled += len(ids)
        now = api.state.clock()
        found = (api.state.lookup(task_id, poll_path) for task_id in dict.fromkeys(ids))
        return self._items(family, [batch_item(task, now) for task in found if task is not None], None)

    def _search(self, api: Emulated, poll_path: str, family: ServiceSpec, body: dict[str, Any], token: str) -> Response:
        """``retrieve_batch`` by creation time: this token's tasks, newest first, paged, ``count`` = every match."""
        if api.config.refuse_search:
            return self.error(403, "forbidden", "listing tasks is not enabled for this token (emulated)")
        low, high = body.get("created_at_min"), body.get("created_at_max")
        if low is None and high is None:
            return self.error(400, "bad_request", "retrieve_batch needs ids or created_at_min/created_at_max")
        bounds = [value for value in (low, high) if value is not None]
        if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in bounds):
            return self.error(400, "bad_request", "created_at_min/created_at_max: must be Unix seconds")
        offset, limit = body.get("offset", 0), body.get("limit", 12)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (offset, limit)):
            return self.error(400, "bad_request", "offset/limit: must be integers")
        matching = sorted(
            (
                task
                # Newest insertion first, so tasks created in the same millisecond keep their order
                # through the (stable) sort.
                for task in reversed(list(api.state.tasks.values()))
                if task.spec.poll_path == poll_path
                and task.token == token
                and (low is None or task.created_at >= low)
                and (high is None or task.created_at <= high)
            ),
            key=lambda task: task.created_at,
            reverse=True,
        )
        now = api.state.clock()
        page = matching[offset : offset + min(limit, api.config.max_batch_ids)]
        return self._items(family, [batch_item(task, now) for task in page], len(matching))

    @staticmethod
    def _items(family: ServiceSpec, items: list[dict[str, Any]], total: int | None) -> Response:
        count = len(items) if total is None else total
        if family.shape is Shape.TASK:  # MiniMax counts with "total"
            return JSONResponse({"total": count, "items": items})
        return JSONResponse({"items": items, "count": count})


# ------------------------------------------------------------------------------------------------
# Records and bodies
# ------------------------------------------------------------------------------------------------


def record(task: Task, now: float) -> dict[str, Any]:
    """The detailed task record ``retrieve`` answers (MiniMax: ``{"task": {...}}``)."""
    if task.spec.shape is Shape.TASK:
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
    record["response"] = response_body(task, terminal=phase == TERMINAL, fraction=fraction)
    if phase == TERMINAL:
        if not (task.outcome == FAIL and task.spec.name in FAIL_WITHOUT_FINISHED_AT):
            record["finished_at"] = task.finished_at
            record["elapsed"] = round(task.finished_at - task.started_at, 3)
        task._final = record
    return record


def batch_item(task: Task, now: float) -> dict[str, Any]:
    """One ``items`` entry of ``retrieve_batch``: the record; MiniMax lists bare task objects."""
    if task.spec.shape is Shape.TASK:
        return minimax_task(task, now)
    return record(task, now)


def final_body(task: Task) -> dict[str, Any]:
    """What a blocking submission answers and a callback POSTs: the terminal ``response``."""
    if task.spec.shape is Shape.TASK:
        return {"task": minimax_task(task, task.finish_mono)}
    return response_body(task, terminal=True)


def response_body(task: Task, *, terminal: bool, fraction: float = 1.0) -> dict[str, Any]:
    spec, words = task.spec, task.spec.words
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
    if spec.shape is Shape.FLAT:
        return _flat_response(task, word, video_url, terminal, error)
    body = {"success": error is None, "task_id": task.id, "trace_id": task.trace_id}
    if error:
        body["error"] = error
    item = _data_item(task, word, video_url, terminal, error is not None)
    # Dreamina answers one object (fixture dreamina/generate_sync_response_done.json), not a list.
    body["data"] = item if spec.shape is Shape.DATA_OBJECT else [item]
    return body


def _data_item(task: Task, word: str, video_url: str | None, terminal: bool, failed: bool) -> dict[str, Any]:
    spec, req, key = task.spec, task.request, task.spec.words.state_key
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
    elif name.startswith("kickart"):  # one object, no state word, usage a number (openapi/kickart.json)
        item = kickart_data(task, video_url)
    elif spec.shape is Shape.DATA_OBJECT:  # dreamina
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


def kickart_data(task: Task, video_url: str | None) -> dict[str, Any]:
    """Kickart's ``data``, keyed as the spec's 200 examples: ``task_id`` (the task's own id), the video,
    ``produce_id`` (product videos only), ``usage``, ``template_id``, then the echoed mode/type/duration."""
    req, name = task.request, task.spec.name
    data: dict[str, Any] = {"task_id": task.id}
    if video_url:
        data["video_url"] = video_url
    if name == "kickart":
        data["produce_id"] = str(uuid.uuid5(_NAMESPACE, "produce:" + task.id))
    data["usage"] = KICKART_USAGE.get(name, 0.21)
    data["template_id"] = str(req.get("template_id") or 10**8 + uuid.UUID(task.id).int % (9 * 10**8))
    if name == "kickart":
        data.update(mode=req.get("mode", "fast"), type=req.get("type", "intro"), duration=req.get("duration"))
    elif name == "kickart-viral":
        data["mode"] = req.get("mode", "pro")
    return data


def _flat_response(
    task: Task, word: str, video_url: str | None, terminal: bool, error: dict[str, str] | None
) -> dict[str, Any]:
    name, key = task.spec.name, task.spec.words.state_key
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
        status = spec.words.running
    elif task.outcome == CANCELLED:
        status = "cancelled"
    else:
        words = spec.words
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
        elif task.outcome != CANCELLED:
            body["error"] = dict(REJECT_ERROR if task.outcome == REJECT else FAIL_ERROR)
        task._final = body
    return body


def _clock(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))
