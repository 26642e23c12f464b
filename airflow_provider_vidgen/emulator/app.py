"""The emulator's HTTP face: a Starlette app answering like every registered vendor's API.

One app serves all vendors (their paths do not overlap): point each connection's host at the
emulator root. What a vendor's API looks like (auth, envelopes, routes, records) is its face
(``Vendor.emulated_by``, see ``emulator.face``); what is common is here.

Per API request, in this order: the request is counted by kind (``submit``, ``retrieve``,
``retrieve_batch``, ``delete``), ``latency`` is waited, the token is checked (``rejected_auth``),
the per-token rate limit applies (``rate_limited``), then, with ``enforce_limits``, the vendor's published
limits of the request's service (``emulator.limiter``: in flight per token and group, then a submission's
rate; also ``rate_limited``), a fault may be injected (``fault``), a submission waits ``submit_latency``
holding its in-flight place, and only then is the request handled. So the kind counters count every
attempt that reached the emulator, whatever its outcome; ``ids_polled`` counts the ids of polls that were
answered normally.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.core.vendor import all_vendors
from airflow_provider_vidgen.emulator.config import EmulatorConfig
from airflow_provider_vidgen.emulator.face import NOT_JSON, DropConnection, Emulated, Handler, VendorFace, face_of
from airflow_provider_vidgen.emulator.state import EmulatorState

MAX_ADVANCE = 366 * 86400  # a year: enough for any render or rate window, and finite

log = logging.getLogger("airflow_provider_vidgen.emulator")

HERE = Path(__file__).resolve().parent
SAMPLE_MP4 = (HERE / "sample.mp4").read_bytes()
SAMPLE_JPG = (HERE / "sample.jpg").read_bytes()

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class EmulatorApp(Starlette):
    """Starlette, plus the server's raw ``send`` in the scope so a response can drop the connection."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["vidgen.raw_send"] = send
        await super().__call__(scope, receive, send)


def _retry_after(config: EmulatorConfig, seconds: float) -> dict[str, str]:
    if not config.send_retry_after:
        return {}
    seconds = config.retry_after if config.retry_after is not None else seconds
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
    faces = {vendor.name: face_of(vendor) for vendor in all_vendors()}
    state = EmulatorState(config, faces)
    api = Emulated(state, guard_for(state, faces))
    routes = [route for face in faces.values() for route in face.routes(api)]
    routes += control_routes(state)

    def face_for(path: str) -> VendorFace:
        return next((face for face in faces.values() if face.owns(path)), next(iter(faces.values())))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return face_for(request.url.path).not_found(request.url.path, status)

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


def guard_for(state: EmulatorState, faces: dict[str, VendorFace]) -> Any:
    """The guard every API call passes: count, latency, token, rate limit, the vendor's published limits,
    faults, then the handler."""

    async def guarded(
        request: Request, vendor: str, kind: str, handle: Handler, spec: ServiceSpec | None = None
    ) -> Response:
        state.count(kind, vendor)
        state.open_requests[kind] += 1
        state.peak_open_requests[kind] = max(state.peak_open_requests[kind], state.open_requests[kind])
        try:
            return await answer(request, faces[vendor], kind, handle, spec)
        finally:
            state.open_requests[kind] = max(0, state.open_requests[kind] - 1)  # a reset may have zeroed it

    async def answer(
        request: Request, face: VendorFace, kind: str, handle: Handler, spec: ServiceSpec | None
    ) -> Response:
        config = state.config
        if config.latency:
            await asyncio.sleep(config.latency)
        token, refusal = face.authenticate(request, config.tokens)
        if refusal is not None:
            state.count("rejected_auth", face.name)
            return refusal
        state.record_rate(token)
        wait = state.rate_check(token, state.clock())
        if wait is not None:
            return refused(face, face.too_many(_retry_after(config, wait)), "too_many_requests")
        if spec is None:
            return await fault_or_handle(face, kind, token, handle)
        if not state.limiter.enter(token, spec.limits, config.enforce_limits):
            return refused(face, face.concurrency_exceeded(), "rate_limited")
        try:
            if kind == "submit" and config.enforce_limits:
                wait = state.limiter.submit_wait(token, spec.name, spec.limits)
                if wait is not None:
                    return refused(face, face.too_many(_retry_after(config, wait)), "too_many_requests")
            return await fault_or_handle(face, kind, token, handle)
        finally:
            state.limiter.leave(token, spec.limits)

    def refused(face: VendorFace, response: Response, code: str) -> Response:
        """A 429 of a limit: counted as ``rate_limited`` (the kind) and by its error code."""
        state.count("rate_limited", face.name)
        state.limiter.refused(code)
        return response

    async def fault_or_handle(face: VendorFace, kind: str, token: str, handle: Handler) -> Response:
        fault = state.roll_fault()
        if fault is not None:
            state.count("fault", face.name)
            if fault == "429":
                state.limiter.refused("too_many_requests")
            return fault_response(face, fault, state.config)
        if kind == "submit" and state.config.submit_latency:
            # The vendor's answer takes this long; the request holds its in-flight place meanwhile (other
            # requests are served: this only suspends this one's coroutine).
            await asyncio.sleep(state.config.submit_latency)
        return await handle(token)

    return guarded


def fault_response(face: VendorFace, fault: str, config: EmulatorConfig) -> Response:
    if fault == "429":
        return face.too_many(_retry_after(config, 1))
    if fault == "500":
        return face.server_error()
    if fault == "502":
        return Response(BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
    return DropConnection()


def control_routes(state: EmulatorState) -> list[Route]:
    """Media files and the control endpoints (no auth)."""

    async def read_json(request: Request) -> Any:
        return await Emulated.read_json(request)

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

    async def clock(request: Request) -> Response:
        """``{"advance": seconds}``: move the clock forward, as ``EmulatorServer.advance`` does in-process (a
        DAG's task can finish a generation it has seen running, whatever the machine's load)."""
        body = await read_json(request)
        seconds = body.get("advance") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_ADVANCE:
            error = f'send {{"advance": seconds}}, a number from 0 to {MAX_ADVANCE}'
            return JSONResponse({"error": error}, status_code=400)
        state.clock.advance(float(seconds))
        return JSONResponse({"ok": True})

    async def callbacks(request: Request) -> Response:
        """A built-in callback receiver: POST anything under /_emulator/callbacks, GET lists it."""
        if request.method == "POST":
            body = await read_json(request)
            state.receive_callback(request.url.path, None if body is NOT_JSON else body)
            return JSONResponse({"ok": True})
        return JSONResponse({"callbacks": state.sink})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "tasks": len(state.tasks)})

    return [
        Route("/files/{name}", files, methods=["GET", "HEAD"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/config", config_endpoint, methods=["GET", "POST"]),
        Route("/_emulator/clock", clock, methods=["POST"]),
        Route("/_emulator/callbacks", callbacks, methods=["GET", "POST"]),
        Route("/_emulator/callbacks/{rest:path}", callbacks, methods=["POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]
