"""The emulator's face of HiDream: its envelopes, its routes and its task records.

Every answer is ``{code, message, request_id, result}``. Unknown ids come back as the docs say: a record
with an empty ``sub_task_results`` (``code 0``), in the single result and in the batch result alike.
The v3 modules get submit and single-result routes only: no v3 batch endpoint is documented, so none
is served (``ServiceSpec.batch_retrieve``), and a POST to one answers HiDream's 404 envelope.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.emulator.face import Emulated, VendorFace
from airflow_provider_vidgen.emulator.tasks import NOURL, QUEUED, REJECT, RUNNING, SUCCESS, TERMINAL, Task
from airflow_provider_vidgen.vendors.hidream.services import DONE, FAILED, PROCESSING, REJECTED, WAITING

PREFIX = "/api-pub/"


def envelope(
    code: int, message: str, result: Any = None, *, request_id: str | None = None, status: int = 200, headers=None
) -> JSONResponse:
    body = {"code": code, "message": message, "request_id": request_id or str(uuid.uuid4()), "result": result}
    return JSONResponse(body, status_code=status, headers=headers)


class HiDreamFace(VendorFace):
    """HiDream on the wire."""

    api: Emulated | None = None

    def authenticate(self, request: Request, tokens: frozenset[str]) -> tuple[str, Response | None]:
        header = request.headers.get("authorization", "").strip()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in tokens:
            return "", envelope(1001, "missing token" if not header else "invalid token", status=401)
        return token.strip(), None

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return envelope(status, message, status=status, headers=headers)

    def too_many(self, headers: dict[str, str]) -> Response:
        return envelope(429, "too many requests", status=429, headers=headers)

    def server_error(self) -> Response:
        return envelope(500, "internal server error", status=500)

    def not_found(self, path: str, status: int) -> Response:
        return envelope(status, "no such API" if status == 404 else "method not allowed", status=status)

    def owns(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def callback_body(self, task: Task, moment: float) -> dict[str, Any]:
        """The ``notify_url`` body: ``{main_task_id, sub_task_results}`` (v2 docs) or ``{main_task_id, result}``
        (batch docs), as the emulator's ``hidream_notify_shape`` says."""
        final = record(task, task.finish_mono)
        if self.api is not None and self.api.config.hidream_notify_shape == "result":
            return {"main_task_id": task.id, "result": final}
        return {"main_task_id": task.id, "sub_task_results": final["sub_task_results"]}

    def routes(self, api: Emulated) -> list[Route]:
        self.api = api  # the callback body's shape is a setting of the emulator
        specs = list(self.vendor.services.values())
        return [
            *(Route(spec.submit_path, self._submit(api, spec), methods=["POST"]) for spec in specs),
            *(Route(spec.poll_path, self._result(api, spec), methods=["GET"]) for spec in specs),
            *(Route(f"{spec.poll_path}/batch", self._batch(api, spec), methods=["POST"]) for spec in specs
              if spec.batch_retrieve),
        ]  # fmt: skip

    def _submit(self, api: Emulated, spec: ServiceSpec) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await api.read_json(request)
            request_id = body.get("request_id") if isinstance(body, dict) else None

            async def handle(token: str) -> Response:
                if not isinstance(body, dict):
                    return envelope(1002, "body: must be a JSON object")
                problem = api.check(spec, body)
                if problem:
                    return envelope(1002, problem, request_id=request_id)
                task = await api.accept(self.name, spec, body, token, request, body.get("notify_url") or None)
                if isinstance(task, Response):
                    return task
                return envelope(0, "Success", {"task_id": task.id}, request_id=request_id)

            return await api.guarded(request, self.name, "submit", handle)

        return endpoint

    def _result(self, api: Emulated, spec: ServiceSpec) -> Any:
        async def endpoint(request: Request) -> Response:
            task_id = request.query_params.get("task_id")
            request_id = request.query_params.get("request_id")

            async def handle(token: str) -> Response:
                if not task_id:
                    return envelope(1002, "task_id: is required", request_id=request_id)
                api.state.ids_polled += 1
                task = api.state.lookup(task_id, spec.poll_path)
                result = record(task, api.state.clock()) if task is not None else unknown(task_id)
                return envelope(0, "Success", result, request_id=request_id)

            return await api.guarded(request, self.name, "retrieve", handle)

        return endpoint

    def _batch(self, api: Emulated, spec: ServiceSpec) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await api.read_json(request)

            async def handle(token: str) -> Response:
                ids = body.get("task_id_list") if isinstance(body, dict) else None
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    return envelope(1002, "task_id_list: must be a list of task ids")
                if len(ids) > api.config.max_batch_ids:
                    return envelope(1002, f"task_id_list: takes at most {api.config.max_batch_ids} ids")
                api.state.ids_polled += len(ids)
                now = api.state.clock()
                found = {task_id: api.state.lookup(task_id, spec.poll_path) for task_id in dict.fromkeys(ids)}
                records = [record(task, now) if task else unknown(task_id) for task_id, task in found.items()]
                return envelope(0, "Success", records)

            return await api.guarded(request, self.name, "retrieve_batch", handle)

        return endpoint


def unknown(task_id: str) -> dict[str, Any]:
    """What HiDream answers for a task id it does not know: the id, and no sub-task at all."""
    return {"task_id": task_id, "sub_task_results": []}


def record(task: Task, now: float) -> dict[str, Any]:
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
        status, completion = WAITING, 0.0
    elif phase == RUNNING:
        status, completion = PROCESSING, round(min(0.99, max(0.01, fraction)), 2)
    elif task.outcome in (SUCCESS, NOURL):
        status, completion = DONE, 1.0
        if task.outcome == SUCCESS:
            video, video_wm = task.media_url(".mp4"), task.media_url("_wm.mp4")
    else:
        status, completion = (REJECTED if task.outcome == REJECT else FAILED), 0.0
    sub = {
        "sub_task_id": task.sub_task_id,
        "task_status": status,
        "task_completion": completion,
        "video": video,
        "video_wm": video_wm,
    }
    body = {"task_id": task.id, "sub_task_results": [sub]}
    if phase == TERMINAL:
        task._final = body
    return body
