"""The emulator's HTTP face: a Starlette app answering like Ace Data Cloud and HiDream.

One app serves both vendors (their paths do not overlap): point an Ace Data connection's host
and a HiDream connection's host at the emulator root.

Per API request, in this order: the request is counted by kind (``submit``, ``retrieve``,
``retrieve_batch``, ``delete``), ``latency`` is waited, the token is checked (``rejected_auth``),
the per-token rate limit applies (``rate_limited``), a fault may be injected (``fault``), and only
then is the request handled. So the kind counters count every attempt that reached the emulator,
whatever its outcome; ``ids_polled`` counts the ids of polls that were answered normally.

Unknown ids: Ace Data answers HTTP 200 ``{}`` (or 404 ``not_found`` with ``unknown_404``); HiDream's
single result answers ``code 0`` with ``result: null`` (no public documentation says otherwise, and
the provider reads a null result as "not found"), and its batch result simply leaves them out.
HiDream's v3 modules get submit and single-result routes only: no v3 batch endpoint is documented,
so none is served (``ServiceSpec.batch_retrieve``), and a POST to one answers HiDream's 404 envelope.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.schema import ServiceSpec, validate_body
from airflow_provider_vidgen.emulator.config import EmulatorConfig
from airflow_provider_vidgen.emulator.state import EmulatorState
from airflow_provider_vidgen.emulator.tasks import (
    ACE_POLL,
    ACE_SUBMIT,
    HIDREAM_POLL,
    HIDREAM_SUBMIT,
    Task,
    ace_batch_item,
    ace_final_body,
    ace_record,
    hidream_record,
)

log = logging.getLogger("airflow_provider_vidgen.emulator")

HERE = Path(__file__).resolve().parent
SAMPLE_MP4 = (HERE / "sample.mp4").read_bytes()
SAMPLE_JPG = (HERE / "sample.jpg").read_bytes()

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
HIDREAM_PREFIX = "/api-pub/"

Handler = Callable[[str], Awaitable[Response]]


class EmulatorApp(Starlette):
    """Starlette, plus the server's raw ``send`` in the scope so a response can drop the connection."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["vidgen.raw_send"] = send
        await super().__call__(scope, receive, send)


class DropConnection(Response):
    """Close the TCP connection without any answer: the client sees a transport error.

    Under uvicorn the transport is reached through its ``send`` callable and aborted. Under any other
    server, a response is started with a Content-Length that is never delivered, which also ends in
    a transport error on the client side.
    """

    def __init__(self) -> None:
        super().__init__(b"", status_code=500)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw_send = scope.get("vidgen.raw_send")
        transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            transport.abort()
            for _ in range(3):  # let uvicorn see the connection lost before the app returns
                await asyncio.sleep(0)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionAbortedError("emulated dropped connection")


# ------------------------------------------------------------------------------------------------
# Envelopes
# ------------------------------------------------------------------------------------------------


def ace_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"success": False, "error": {"code": code, "message": message}, "trace_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=status, headers=headers)


def hidream_envelope(
    code: int, message: str, result: Any = None, *, request_id: str | None = None, status: int = 200, headers=None
) -> JSONResponse:
    body = {"code": code, "message": message, "request_id": request_id or str(uuid.uuid4()), "result": result}
    return JSONResponse(body, status_code=status, headers=headers)


def _retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


# ------------------------------------------------------------------------------------------------
# App factory
# ------------------------------------------------------------------------------------------------


def create_app(config: EmulatorConfig | None = None, **overrides: Any) -> EmulatorApp:
    """The emulator as an ASGI app; ``app.state.emulator`` is its :class:`EmulatorState`."""
    if config is None:
        config = EmulatorConfig(**overrides)
    elif overrides:
        config = config.updated(overrides)
    state = EmulatorState(config)

    def cfg() -> EmulatorConfig:
        return state.config

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def read_json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return ...  # marker for "not JSON"

    # ---------------------------------------------------------------- the guard every API call passes

    async def guarded(request: Request, vendor: str, kind: str, handle: Handler) -> Response:
        state.count(kind, vendor)
        state.open_requests[kind] += 1
        state.peak_open_requests[kind] = max(state.peak_open_requests[kind], state.open_requests[kind])
        try:
            return await answer(request, vendor, kind, handle)
        finally:
            state.open_requests[kind] = max(0, state.open_requests[kind] - 1)  # a reset may have zeroed it

    async def answer(request: Request, vendor: str, kind: str, handle: Handler) -> Response:
        config = cfg()
        if config.latency:
            await asyncio.sleep(config.latency)
        token, refusal = authenticate(request, vendor)
        if refusal is not None:
            state.count("rejected_auth", vendor)
            return refusal
        wait = state.rate_check(token, state.clock())
        if wait is not None:
            state.count("rate_limited", vendor)
            headers = _retry_after_header(config.retry_after if config.retry_after is not None else wait)
            return too_many(vendor, headers)
        fault = state.roll_fault()
        if fault is not None:
            state.count("fault", vendor)
            return fault_response(vendor, fault)
        return await handle(token)

    async def hold_answer() -> None:
        """``submit_hold_seconds``: the task exists, its id is not answered yet (a client killed now never sees it)."""
        if cfg().submit_hold_seconds:
            await asyncio.sleep(cfg().submit_hold_seconds)

    def authenticate(request: Request, vendor: str) -> tuple[str, Response | None]:
        header = request.headers.get("authorization", "").strip()
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if vendor == "hidream":
            if scheme.lower() != "bearer" or token not in cfg().tokens:
                message = "missing token" if not header else "invalid token"
                return "", hidream_envelope(1001, message, status=401)
            return token, None
        if not header:
            return "", ace_error(400, "no_token", "No token provided; send 'authorization: Bearer <token>'.")
        if scheme.lower() != "bearer" or token not in cfg().tokens:
            return "", ace_error(401, "invalid_token", "The token is invalid.")
        return token, None

    def too_many(vendor: str, headers: dict[str, str]) -> Response:
        if vendor == "hidream":
            return hidream_envelope(429, "too many requests", status=429, headers=headers)
        return ace_error(429, "too_many_requests", "You have exceeded the rate limit.", headers)

    def fault_response(vendor: str, fault: str) -> Response:
        if fault == "429":
            config = cfg()
            return too_many(vendor, _retry_after_header(config.retry_after if config.retry_after is not None else 1))
        if fault == "500":
            if vendor == "hidream":
                return hidream_envelope(500, "internal server error", status=500)
            return ace_error(500, "api_error", "Internal server error.")
        if fault == "502":
            return Response(BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
        return DropConnection()

    # ---------------------------------------------------------------- Ace Data Cloud

    def ace_submit_route(spec: ServiceSpec) -> Route:
        async def endpoint(request: Request) -> Response:
            body = await read_json(request)

            async def handle(token: str) -> Response:
                if not isinstance(body, dict):
                    return ace_error(400, "bad_request", "body: must be a JSON object")
                payload = dict(body)
                async_flag = payload.pop("async", None)
                if async_flag is not None and not isinstance(async_flag, bool):
                    return ace_error(400, "bad_request", f"async: must be true or false, got {async_flag!r}")
                try:
                    validate_body(spec, payload, allow_unknown=not cfg().strict_fields)
                except InvalidInputError as err:
                    return ace_error(400, "bad_request", str(err))
                callback_url = payload.get("callback_url") or None
                task = state.create(spec, body, token=token, base_url=base_url(request), callback_url=callback_url)
                if state.roll_ambiguous():
                    state.count("fault", "acedata")
                    return DropConnection()
                await hold_answer()
                if async_flag or callback_url:
                    return JSONResponse({"task_id": task.id, "trace_id": task.trace_id})
                return await blocking_answer(task)

            return await guarded(request, "acedata", "submit", handle)

        return Route(spec.submit_path, endpoint, methods=["POST"], name=f"acedata:{spec.name}:submit")

    async def blocking_answer(task: Task) -> Response:
        """Synchronous mode: hold the request until the task is terminal, answer its final body."""
        remaining = task.finish_mono - state.clock()
        if remaining > cfg().sync_timeout:
            await asyncio.sleep(cfg().sync_timeout)
            return ace_error(504, "timeout", "The request timed out before the task finished.")
        if remaining > 0:
            await asyncio.sleep(remaining)
        return JSONResponse(ace_final_body(task))

    def ace_poll_route(poll_path: str, family: ServiceSpec) -> Route:
        minimax = family.response_shape == "task"

        async def endpoint(request: Request) -> Response:
            body = await read_json(request)
            action = (body.get("action") or "retrieve") if isinstance(body, dict) else "retrieve"
            kind = action if action in ("retrieve", "retrieve_batch", "delete") else "retrieve"

            async def handle(token: str) -> Response:
                if not isinstance(body, dict):
                    return ace_error(400, "bad_request", "body: must be a JSON object")
                now = state.clock()
                if action == "retrieve":
                    task_id = body.get("id")
                    if not isinstance(task_id, str) or not task_id:
                        return ace_error(400, "bad_request", "id: is required for action retrieve")
                    state.ids_polled += 1
                    task = state.lookup(task_id, poll_path)
                    if task is None:
                        if cfg().unknown_404:
                            return ace_error(404, "not_found", "The specified task was not found.")
                        return JSONResponse({})
                    return JSONResponse(ace_record(task, now))
                if action == "retrieve_batch" and "ids" not in body:
                    return search_answer(body, now, token)
                if action == "retrieve_batch":
                    ids = body.get("ids")
                    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                        return ace_error(400, "bad_request", "ids: must be a non-empty list of task ids")
                    if len(ids) > cfg().max_batch_ids:
                        return ace_error(
                            400, "bad_request", f"ids: takes at most {cfg().max_batch_ids} ids, got {len(ids)}"
                        )
                    state.ids_polled += len(ids)
                    found = (state.lookup(task_id, poll_path) for task_id in dict.fromkeys(ids))
                    items = [ace_batch_item(task, now) for task in found if task is not None]
                    if minimax:
                        return JSONResponse({"total": len(items), "items": items})
                    return JSONResponse({"items": items, "count": len(items)})
                if action == "delete":
                    task_id = body.get("id")
                    return JSONResponse({"id": task_id, "deleted": state.delete(task_id, poll_path)})
                return ace_error(
                    400, "bad_request", f"action: must be one of 'retrieve', 'retrieve_batch', 'delete'; got {action!r}"
                )

            def search_answer(body: dict[str, Any], now: float, token: str) -> Response:
                """``retrieve_batch`` by creation time: this token's tasks, newest first, ``offset``/``limit``
                paging, ``count`` = every match."""
                low, high = body.get("created_at_min"), body.get("created_at_max")
                if low is None and high is None:
                    return ace_error(400, "bad_request", "retrieve_batch needs ids or created_at_min/created_at_max")
                bounds = [value for value in (low, high) if value is not None]
                if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in bounds):
                    return ace_error(400, "bad_request", "created_at_min/created_at_max: must be Unix seconds")
                offset, limit = body.get("offset", 0), body.get("limit", 12)
                if not all(isinstance(value, int) and not isinstance(value, bool) for value in (offset, limit)):
                    return ace_error(400, "bad_request", "offset/limit: must be integers")
                matching = sorted(
                    (
                        task
                        # Newest insertion first, so tasks created in the same millisecond keep
                        # their order through the (stable) sort.
                        for task in reversed(list(state.tasks.values()))
                        if task.spec.poll_path == poll_path
                        and task.token == token
                        and (low is None or task.created_at >= low)
                        and (high is None or task.created_at <= high)
                    ),
                    key=lambda task: task.created_at,
                    reverse=True,
                )
                page = [
                    ace_batch_item(task, now) for task in matching[offset : offset + min(limit, cfg().max_batch_ids)]
                ]
                if minimax:
                    return JSONResponse({"total": len(matching), "items": page})
                return JSONResponse({"items": page, "count": len(matching)})

            return await guarded(request, "acedata", kind, handle)

        return Route(poll_path, endpoint, methods=["POST"], name=f"acedata:{poll_path}")

    # ---------------------------------------------------------------- HiDream

    def hidream_submit_route(spec: ServiceSpec) -> Route:
        async def endpoint(request: Request) -> Response:
            body = await read_json(request)
            request_id = body.get("request_id") if isinstance(body, dict) else None

            async def handle(token: str) -> Response:
                if not isinstance(body, dict):
                    return hidream_envelope(1002, "body: must be a JSON object")
                try:
                    validate_body(spec, body, allow_unknown=not cfg().strict_fields)
                except InvalidInputError as err:
                    return hidream_envelope(1002, str(err), request_id=request_id)
                notify_url = body.get("notify_url") or None
                task = state.create(spec, body, token=token, base_url=base_url(request), callback_url=notify_url)
                if state.roll_ambiguous():
                    state.count("fault", "hidream")
                    return DropConnection()
                await hold_answer()
                return hidream_envelope(0, "Success", {"task_id": task.id}, request_id=request_id)

            return await guarded(request, "hidream", "submit", handle)

        return Route(spec.submit_path, endpoint, methods=["POST"], name=f"hidream:{spec.name}:submit")

    def hidream_result_route(spec: ServiceSpec) -> Route:
        async def endpoint(request: Request) -> Response:
            task_id = request.query_params.get("task_id")
            request_id = request.query_params.get("request_id")

            async def handle(token: str) -> Response:
                if not task_id:
                    return hidream_envelope(1002, "task_id: is required", request_id=request_id)
                state.ids_polled += 1
                task = state.lookup(task_id, spec.poll_path)
                record = hidream_record(task, state.clock()) if task is not None else None
                return hidream_envelope(0, "Success", record, request_id=request_id)

            return await guarded(request, "hidream", "retrieve", handle)

        return Route(spec.poll_path, endpoint, methods=["GET"], name=f"hidream:{spec.name}:result")

    def hidream_batch_route(spec: ServiceSpec) -> Route:
        async def endpoint(request: Request) -> Response:
            body = await read_json(request)

            async def handle(token: str) -> Response:
                ids = body.get("task_id_list") if isinstance(body, dict) else None
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    return hidream_envelope(1002, "task_id_list: must be a list of task ids")
                if len(ids) > cfg().max_batch_ids:
                    return hidream_envelope(1002, f"task_id_list: takes at most {cfg().max_batch_ids} ids")
                state.ids_polled += len(ids)
                now = state.clock()
                found = (state.lookup(task_id, spec.poll_path) for task_id in dict.fromkeys(ids))
                return hidream_envelope(0, "Success", [hidream_record(task, now) for task in found if task])

            return await guarded(request, "hidream", "retrieve_batch", handle)

        return Route(f"{spec.poll_path}/batch", endpoint, methods=["POST"], name=f"hidream:{spec.name}:batch")

    # ---------------------------------------------------------------- media files

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        stem, dot, extension = name.rpartition(".")
        # <id>_wm.mp4 is HiDream's watermarked copy, <id>_1.mp4 .. <id>_3.mp4 Midjourney's other videos.
        task_id = re.sub(r"_(wm|[1-3])$", "", stem) if extension == "mp4" else stem
        task = state.tasks.get(task_id)
        state.count("download", task.vendor if task else None)
        now = state.clock()
        if not dot or extension not in ("mp4", "jpg") or task is None or not task.has_video or not task.terminal(now):
            return Response("not found\n", status_code=404, media_type="text/plain")
        data, media_type = (SAMPLE_MP4, "video/mp4") if extension == "mp4" else (SAMPLE_JPG, "image/jpeg")
        headers = {"content-length": str(len(data)), "cache-control": "public, max-age=86400"}
        if request.method == "HEAD":
            return Response(b"", media_type=media_type, headers=headers)
        return Response(data, media_type=media_type, headers=headers)

    # ---------------------------------------------------------------- control endpoints (no auth)

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def config_endpoint(request: Request) -> Response:
        if request.method == "POST":
            changes = await read_json(request)
            if not isinstance(changes, dict):
                return JSONResponse({"error": "send a JSON object of settings"}, status_code=400)
            try:
                return JSONResponse(state.configure(changes))
            except (ValueError, TypeError) as err:
                return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse(state.config.public_dict())

    async def callbacks(request: Request) -> Response:
        """A built-in callback receiver: POST anything under /_emulator/callbacks, GET lists it."""
        if request.method == "POST":
            body = await read_json(request)
            state.receive_callback(request.url.path, None if body is ... else body)
            return JSONResponse({"ok": True})
        return JSONResponse({"callbacks": state.sink})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "tasks": len(state.tasks)})

    # ---------------------------------------------------------------- errors

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if request.url.path.startswith(HIDREAM_PREFIX):
            return hidream_envelope(status, "no such API" if status == 404 else "method not allowed", status=status)
        if status == 405:
            return ace_error(405, "method_not_allowed", f"{request.method} is not allowed here.")
        return ace_error(404, "no_api", f"No API at {request.url.path}.")

    routes = [
        *(ace_submit_route(spec) for spec in ACE_SUBMIT.values()),
        *(ace_poll_route(path, spec) for path, spec in ACE_POLL.items()),
        *(hidream_submit_route(spec) for spec in HIDREAM_SUBMIT.values()),
        *(hidream_result_route(spec) for spec in HIDREAM_POLL.values()),
        *(hidream_batch_route(spec) for spec in HIDREAM_POLL.values() if spec.batch_retrieve),
        Route("/files/{name}", files, methods=["GET", "HEAD"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/config", config_endpoint, methods=["GET", "POST"]),
        Route("/_emulator/callbacks", callbacks, methods=["GET", "POST"]),
        Route("/_emulator/callbacks/{rest:path}", callbacks, methods=["POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette):
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = EmulatorApp(routes=routes, lifespan=lifespan, exception_handlers={404: not_found, 405: not_found})
    app.state.emulator = state
    return app
