"""The emulator's face of one vendor: how its API looks on the wire (auth, envelopes, routes, bodies).

The emulator serves every registered vendor through its face (``Vendor.emulated_by``); what is common
to all of them (counting, latency, the token check, the rate limit, fault injection, task lifecycles,
media files, callbacks) is the emulator's own, in ``app`` and ``state``. A face reads its services
from the vendor's rows, so the emulator and the provider agree by construction.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.schema import ServiceSpec, validate_body

if TYPE_CHECKING:
    from airflow_provider_vidgen.core.vendor import Vendor
    from airflow_provider_vidgen.emulator.config import EmulatorConfig
    from airflow_provider_vidgen.emulator.state import EmulatorState
    from airflow_provider_vidgen.emulator.tasks import Task

Handler = Callable[[str], Awaitable[Response]]


class Guard(Protocol):
    """What every API call passes (``app.guard_for``); ``spec``: the service whose published limits apply."""

    def __call__(
        self, request: Request, vendor: str, kind: str, handle: Handler, spec: ServiceSpec | None = None
    ) -> Awaitable[Response]: ...


NOT_JSON = object()  # a request body that is not JSON


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


class Emulated:
    """What the emulator gives a face: its state, its settings and the guard every API call passes."""

    def __init__(self, state: EmulatorState, guard: Guard) -> None:
        self.state = state
        self.guarded = guard

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    @staticmethod
    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @staticmethod
    async def read_json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return NOT_JSON

    def check(self, spec: ServiceSpec, body: dict[str, Any]) -> str | None:
        """The validation error of a submission (the provider's own schema), or None."""
        try:
            validate_body(spec, body, allow_unknown=not self.config.strict_fields)
        except InvalidInputError as err:
            return str(err)
        return None

    async def accept(
        self, vendor: str, spec: ServiceSpec, body: dict[str, Any], token: str, request: Request, callback: str | None
    ) -> Task | Response:
        """Create the task of an accepted submission, then answer like the vendor would: or drop the
        connection (``ambiguous_submit_rate``), or hold the answer (``submit_hold_seconds``). A token whose
        balance is used up (``balance_submissions``) gets the vendor's refusal and nothing is created."""
        refusal = self.state.faces[vendor].used_up()
        if refusal is not None and not self.state.pay(token):
            self.state.count("used_up", vendor)
            return refusal
        task = self.state.create(spec, body, token=token, base_url=self.base_url(request), callback_url=callback)
        if self.state.roll_ambiguous():
            return self.dropped(vendor)
        await self.hold_answer()
        return task

    def dropped(self, vendor: str) -> Response:
        """The task was created, then the connection is dropped: the client cannot know (ambiguous)."""
        self.state.count("fault", vendor)
        return DropConnection()

    async def hold_answer(self) -> None:
        """``submit_hold_seconds``: the task exists, its id is not answered yet (a client killed now never sees it)."""
        if self.config.submit_hold_seconds:
            await asyncio.sleep(self.config.submit_hold_seconds)


class VendorFace(ABC):
    """One vendor's wire format, emulated. Subclasses name their vendor and build their routes."""

    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor
        self.name = vendor.name

    # ---------------------------------------------------------------- envelopes

    @abstractmethod
    def authenticate(self, request: Request, tokens: frozenset[str]) -> tuple[str, Response | None]:
        """(the token, None) for an accepted request, else ("", the vendor's refusal)."""

    @abstractmethod
    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        """The vendor's error envelope."""

    def too_many(self, headers: dict[str, str]) -> Response:
        return self.error(429, "too_many_requests", "You have exceeded the rate limit.", headers)

    def concurrency_exceeded(self) -> Response:
        """Past the token's in-flight limit (Docs en/faq/concurrency.mdx; API_CONTRACT §1 "Rate limits")."""
        return self.error(429, "rate_limited", "Concurrency limit exceeded for this token.")

    def server_error(self) -> Response:
        return self.error(500, "api_error", "Internal server error.")

    def used_up(self) -> Response | None:
        """The vendor's answer to a submission its balance cannot pay for; None: the vendor documents none
        (its submissions are not counted against ``balance_submissions``)."""
        return None

    def not_found(self, path: str, status: int) -> Response:
        return self.error(status, "no_api", f"No API at {path}.")

    def owns(self, path: str) -> bool:
        """Whether a path belongs to this vendor's API (for answering unknown paths in its envelope)."""
        return any(path.startswith(spec.submit_path.rsplit("/", 2)[0]) for spec in self.vendor.services.values())

    # ---------------------------------------------------------------- tasks and routes

    @abstractmethod
    def routes(self, api: Emulated) -> list[Route]:
        """The vendor's API routes (submission and polling endpoints of every service)."""

    def item_id(self, task: Task) -> str:
        """The id the vendor gives a task's output item, when its records show one."""
        return str(uuid.uuid4())

    def callback_moments(self, task: Task) -> list[tuple[float, bool]]:
        """When (seconds after submission) the vendor calls back, and whether each call is the final one."""
        return [(task.queued + task.running, True)]

    @abstractmethod
    def callback_body(self, task: Task, moment: float) -> dict[str, Any]:
        """What the vendor POSTs to a task's callback URL at ``moment`` (seconds after submission)."""


def face_of(vendor: Vendor) -> VendorFace:
    from airflow_provider_vidgen.core.vendor import import_string

    return import_string(vendor.emulated_by)(vendor)
