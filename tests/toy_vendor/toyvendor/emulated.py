"""The emulator's face of the toy vendor (``vendor.py``): its wire format, nothing else."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_vidgen.emulator.face import Emulated, VendorFace
from airflow_provider_vidgen.emulator.tasks import QUEUED, RUNNING, SUCCESS, Task


class ToyFace(VendorFace):
    def authenticate(self, request: Request, tokens: frozenset[str]) -> tuple[str, Response | None]:
        token = request.headers.get("x-toy-key", "")
        return (token, None) if token in tokens else ("", self.error(401, "unauthorized", "bad X-Toy-Key"))

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse({"problem": {"kind": code, "detail": message}}, status_code=status, headers=headers)

    def owns(self, path: str) -> bool:
        return path.startswith("/toy/")

    def callback_body(self, task: Task, moment: float) -> dict[str, Any]:
        return clip(task, task.finish_mono)

    def routes(self, api: Emulated) -> list[Route]:
        (spec,) = self.vendor.services.values()

        async def submit(request: Request) -> Response:
            body = await api.read_json(request)

            async def handle(token: str) -> Response:
                problem = api.check(spec, body) if isinstance(body, dict) else "send a JSON object"
                if problem:
                    return self.error(422, "invalid", problem)
                task = await api.accept(self.name, spec, body, token, request, body.get("notify_url"))
                if isinstance(task, Response):
                    return task
                return JSONResponse({"clip": {"id": task.id}}, status_code=202)

            return await api.guarded(request, self.name, "submit", handle)

        async def one(request: Request) -> Response:
            async def handle(token: str) -> Response:
                task = api.state.lookup(request.path_params["clip_id"], spec.poll_path)
                if task is None:
                    return self.error(404, "not_found", "no such clip")
                return JSONResponse(clip(task, api.state.clock()))

            return await api.guarded(request, self.name, "retrieve", handle)

        async def many(request: Request) -> Response:
            body = await api.read_json(request)

            async def handle(token: str) -> Response:
                ids = body.get("ids") if isinstance(body, dict) else None
                found = [api.state.lookup(task_id, spec.poll_path) for task_id in ids or []]
                now = api.state.clock()
                return JSONResponse({"clips": [clip(task, now)["clip"] for task in found if task]})

            return await api.guarded(request, self.name, "retrieve_batch", handle)

        return [
            Route(spec.submit_path, submit, methods=["POST"]),
            Route(f"{spec.poll_path}:batchGet", many, methods=["POST"]),
            Route(f"{spec.poll_path}/{{clip_id}}", one, methods=["GET"]),
        ]


def clip(task: Task, now: float) -> dict[str, Any]:
    phase, _ = task.phase(now)
    words = task.spec.words
    if phase == QUEUED:
        status = "queued"
    elif phase == RUNNING:
        status = words.running
    else:
        status = words.success if task.outcome == SUCCESS else words.failure
    body = {
        "id": task.id,
        words.state_key or "status": status,
        "request_id": str(uuid.uuid5(uuid.NAMESPACE_URL, task.id)),
    }
    if status == words.success:
        body["file"] = task.media_url(".mp4")
    return {"clip": body}
