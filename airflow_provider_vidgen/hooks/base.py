"""The one hook implementation: auth, HTTP clients and I/O for any vendor.

What to send and what an answer means comes from the vendor object and the pure flows
(``core.flows``), so the sync and async methods are one code path driven two ways. A vendor's hook
class (``AceDataHook``, ``HiDreamHook``) only names its vendor; a vendor without one gets a hook
class derived from it (:func:`hook_class`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx
from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook, Connection

from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.core.flows import (
    SubmissionSearch,
    batch_flow,
    cancel_flow,
    check_task_ids,
    chunked,
    match_submissions,
    probe_flow,
    retrieve_flow,
    search_page_flow,
    submit_flow,
)
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.core.settings import (
    ApiSettings,
    api_settings,
    is_balance_error,
    is_token_error,
    next_step,
)
from airflow_provider_vidgen.core.submission import Submission, prepare
from airflow_provider_vidgen.core.tickets import callback_key
from airflow_provider_vidgen.core.transport import (
    NO_RETRY,
    USER_AGENT,
    ApiRequest,
    Flow,
    HttpResponse,
    Outcome,
    RetryPolicy,
    TransportFailure,
    run_async,
    run_sync,
)
from airflow_provider_vidgen.core.vendor import Vendor, all_vendors, import_string, vendor_for_conn_type
from airflow_provider_vidgen.hooks.gate import RequestGate

# Pages of a creation-time search read at most (100 tasks each): past that, the rest counts as
# unreadable and the lookup is not conclusive, rather than reading a huge account forever.
MAX_SEARCH_PAGES = 50


def transport_failure(exc: httpx.HTTPError) -> TransportFailure:
    """Classify an httpx error by whether the request may have reached the server.

    Only the exception class and its message are kept: httpx messages carry no headers, and the
    request object (which holds the Authorization header) is dropped here.
    """
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol):
        return TransportFailure("connect", detail)
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return TransportFailure("timeout_after_send", detail)
    return TransportFailure("other", detail)


def http_response(response: httpx.Response) -> HttpResponse:
    return HttpResponse(response.status_code, response.content, dict(response.headers))


def request_args(request: ApiRequest) -> dict[str, Any]:
    return {"method": request.method, "url": request.path, "json": request.json, "params": request.params}


def outcome_of(send: Callable[[], httpx.Response]) -> Outcome:
    """The answer of a blocking request, or how it failed in transport."""
    try:
        return http_response(send())
    except httpx.HTTPError as exc:
        return transport_failure(exc)


class VideoApiHook(BaseHook):
    """Talks to one vendor's video API (``vendor``); the connection's password is the API token.

    :param conn_id: the Airflow connection (a vendor's hook names it after the vendor, e.g. ``acedata_conn_id``).
    :param retry: how often and how long to retry a request that failed (a ``RetryPolicy``; by default
        4 attempts with capped exponential backoff). A submission is retried only when provably nothing
        was created.
    :param deadline: monotonic time after which no request is sent (a batch's ``submit_timeout``); None: none.

    What a request waits for before it goes out (its pace, the token's ceiling, an in-flight lease, a
    used-up balance) is the hook's :class:`~airflow_provider_vidgen.hooks.gate.RequestGate`.
    """

    vendor: ClassVar[Vendor]
    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init_subclass__(cls, vendor: Vendor | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if vendor is not None:  # everything Airflow reads from a hook class, from the vendor object
            cls.vendor = vendor
            cls.conn_name_attr = vendor.conn_id_param
            cls.default_conn_name = vendor.default_conn_id
            cls.conn_type = vendor.conn_type
            cls.hook_name = vendor.label
        # Airflow < 3.2 builds the connection form from these methods, looked up in each hook class's
        # own __dict__; newer Airflow reads the same fields from get_provider_info() without the hook.
        from airflow_provider_vidgen import get_provider_info as info

        cls.get_ui_field_behaviour = classmethod(lambda c: info.ui_field_behaviour(c.conn_type))  # type: ignore[method-assign,assignment]
        cls.get_connection_form_widgets = classmethod(lambda c: info.connection_form_widgets(c.conn_type))  # type: ignore[method-assign,assignment]

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.default_conn_name
        setattr(self, self.vendor.conn_id_param, self.conn_id)
        self.retry = retry or RetryPolicy()
        self._settings: ApiSettings | None = None
        self._headers: dict[str, str] | None = None
        self._client: httpx.Client | None = None
        self._connection: Connection | None = None  # set when a caller already looked it up
        self.gate: RequestGate | None = None  # the token's paces and leases (hooks.gate), once the connection is read
        self.callback_key: bytes | None = None  # the key of this connection's callback tickets (core.tickets)
        self.deadline = deadline

    # ---------------------------------------------------------------- connection

    def _configure(self, conn_type: str | None, host: str | None, token: str | None, extras: Mapping[str, Any]) -> None:
        if conn_type and vendor_of_connection(self.conn_id, conn_type) is not self.vendor:
            raise InvalidInputError(
                "conn_type",
                f"connection {self.conn_id!r} is of type {conn_type!r}; {type(self).__name__} needs "
                f"{self.vendor.conn_type!r}",
            )
        if not token:
            raise InvalidInputError(
                "password",
                f"connection {self.conn_id!r} has no API token: set the connection's password to your "
                f"{self.vendor.label} API token (Admin -> Connections, or the password of "
                f"{connection_env_var(self.conn_id)})",
            )
        from airflow.sdk.log import mask_secret

        mask_secret(token)
        self._settings = api_settings(self.vendor, host, extras)
        self._headers = {**self.vendor.auth_headers(token, extras), "user-agent": USER_AGENT}
        self.gate = RequestGate(self.vendor.label, self._settings, token)
        self.callback_key = callback_key(token) if self._settings.callback_base_url else None

    @property
    def settings(self) -> ApiSettings:
        """The connection's settings; resolving them checks the connection (defined, type, token, host)."""
        if self._settings is None:
            conn = self._connection or defined_connection(self.conn_id, self.get_connection, self.vendor)
            self._configure(conn.conn_type, conn.host, conn.password, conn.extra_dejson)
        assert self._settings is not None
        return self._settings

    async def asettings(self) -> ApiSettings:
        if self._settings is None:
            conn = self._connection or await adefined_connection(self.conn_id, self.aget_connection, self.vendor)
            extras = await conn.aextra_dejson() if hasattr(conn, "aextra_dejson") else conn.extra_dejson
            self._configure(conn.conn_type, conn.host, conn.password, extras)
        assert self._settings is not None
        return self._settings

    def _client_kwargs(self, settings: ApiSettings) -> dict[str, Any]:
        assert self._headers is not None
        return {"base_url": settings.base_url, "headers": self._headers, "timeout": settings.timeout}

    def get_conn(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(**self._client_kwargs(self.settings))
        return self._client

    async def aget_client(self, **limits: Any) -> httpx.AsyncClient:
        """A new AsyncClient for this connection; the caller owns (and closes) it."""
        settings = await self.asettings()
        return httpx.AsyncClient(**self._client_kwargs(settings), limits=httpx.Limits(**limits or {}))

    def with_policy(self, *, retry: RetryPolicy | None = None, deadline: float | None = None) -> VideoApiHook:
        """This hook (its connection, client and gate) with another retry policy and deadline, for one caller."""
        hook = copy.copy(self)
        hook.retry = retry or self.retry
        hook.deadline = deadline
        return hook

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---------------------------------------------------------------- flow drivers

    @contextlib.contextmanager
    def _located(self, task_ids: Sequence[str]) -> Iterator[list[ApiRequest]]:
        """Record the requests a flow sends; an ApiError leaves naming the connection, the last URL, the task
        ids and the next step (and a refusal for the balance marks the token)."""
        sent: list[ApiRequest] = []
        try:
            yield sent
        except ApiError as err:
            self.note_refusal(err)
            raise self.locate(err, sent[-1] if sent else None, task_ids) from None

    def run_flow(self, flow: Flow[Any], spec: ServiceSpec | None, task_ids: Sequence[str] = ()) -> Any:
        """Drive a flow with blocking I/O, every request through the gate."""
        client = self.get_conn()
        gate = self.request_gate()

        def call(request: ApiRequest) -> Callable[[], Outcome]:
            return lambda: outcome_of(lambda: client.request(**request_args(request)))

        with self._located(task_ids) as sent:

            def send(request: ApiRequest) -> Outcome:
                sent.append(request)
                return gate.send(request, spec, self.deadline, call(request))

            return run_sync(flow, send, time.sleep)

    async def arun_flow(
        self,
        flow: Flow[Any],
        spec: ServiceSpec | None,
        task_ids: Sequence[str] = (),
        *,
        client: httpx.AsyncClient | None = None,
    ) -> Any:
        """Drive a flow from the event loop, every request through the gate; ``client``: a pooled client the
        caller owns (the shared poller's), else one for this flow alone."""
        own = client is None
        active = client or await self.aget_client()
        gate = self.request_gate()

        try:
            with self._located(task_ids) as sent:

                async def send(request: ApiRequest) -> Outcome:
                    sent.append(request)
                    return await gate.asend(request, spec, lambda: self.asend(active, request))

                return await run_async(flow, send, asyncio.sleep)
        finally:
            if own:
                await active.aclose()

    async def asend(self, client: httpx.AsyncClient, request: ApiRequest) -> Outcome:
        """One request on the wire, once the gate let it through: its answer, or how it failed in transport."""
        try:
            return http_response(await client.request(**request_args(request)))
        except httpx.HTTPError as exc:
            return transport_failure(exc)

    def request_gate(self) -> RequestGate:
        """The token's gate (its paces, leases and balance watch), once the connection is read."""
        self.settings  # noqa: B018 - resolving the connection makes the gate
        assert self.gate is not None
        return self.gate

    def locate(self, err: ApiError, request: ApiRequest | None, task_ids: Sequence[str] = ()) -> ApiError:
        """``err`` naming this connection, the URL it called, the vendor task ids and the next step."""
        settings = self._settings
        if settings is None:
            return err
        url = f"{request.method} {settings.base_url}{request.path}" if request else settings.base_url
        step = next_step(err, self.vendor, self.conn_id, settings)
        return err.located(conn_id=self.conn_id, url=url, task_ids=tuple(task_ids), next_step=step)

    def watch_balance(self) -> None:
        """From now on, no submission is sent once any process on the token was refused for its balance."""
        self.request_gate().watch_balance()

    def note_refusal(self, err: ApiError) -> None:
        """A refusal for the token's balance marks it for every process on the token (our own "not sent",
        without an HTTP status, marks nothing)."""
        if err.status is not None and is_balance_error(err) and self.gate is not None:
            self.gate.note_used_up()

    # ---------------------------------------------------------------- API

    def prepare(self, service: str, body: Mapping[str, Any], *, allow_unknown: bool = False) -> Submission:
        """Validate a submission without sending it (raises InvalidInputError naming the field)."""
        return prepare(self.vendor, service, body, allow_unknown=allow_unknown)

    def submit(self, service: str, body: Mapping[str, Any], *, allow_unknown: bool = False) -> str:
        """Validate and submit one generation; returns the vendor task id (see :meth:`send_submission`)."""
        return self.send_submission(self.prepare(service, body, allow_unknown=allow_unknown))

    def send_submission(self, submission: Submission) -> str:
        """Submit a prepared generation; resent only when provably nothing was created."""
        return self.run_flow(submit_flow(self.vendor, submission.request, self.retry), submission.spec)

    async def asubmit(self, service: str, body: Mapping[str, Any], *, allow_unknown: bool = False) -> str:
        submission = self.prepare(service, body, allow_unknown=allow_unknown)
        return await self.arun_flow(submit_flow(self.vendor, submission.request, self.retry), submission.spec)

    def retrieve(self, service: str, task_id: str) -> TaskResult:
        spec = self.vendor.service(service)
        return self.run_flow(retrieve_flow(self.vendor, spec, task_id, self.retry), spec, [task_id])

    async def aretrieve(self, service: str, task_id: str) -> TaskResult:
        flow = retrieve_flow(self.vendor, self.vendor.service(service), task_id, self.retry)
        return await self.arun_flow(flow, self.vendor.service(service), [task_id])

    def retrieve_many(self, service: str, task_ids: Sequence[str]) -> dict[str, TaskResult]:
        """Every task's result, with one batch request per ``batch_size`` ids (one retrieve per id for a
        service without a batch endpoint, such as HiDream v3)."""
        spec, ids = self.vendor.service(service), check_task_ids(task_ids)
        results: dict[str, TaskResult] = {}
        for chunk in chunked(ids, self.settings.batch_size):
            results.update(self.run_flow(batch_flow(self.vendor, spec, chunk, self.retry), spec, chunk))
        return results

    async def aretrieve_many(self, service: str, task_ids: Sequence[str]) -> dict[str, TaskResult]:
        spec, ids = self.vendor.service(service), check_task_ids(task_ids)
        settings = await self.asettings()
        results: dict[str, TaskResult] = {}
        for chunk in chunked(ids, settings.batch_size):
            results.update(await self.arun_flow(batch_flow(self.vendor, spec, chunk, self.retry), spec, chunk))
        return results

    async def acancel(self, service: str, task_id: str) -> bool | None:
        """Cancel a task that has not started, where the API can (True: cancelled; False: the API did not);
        None where the vendor has no way to cancel this service's tasks."""
        spec = self.vendor.service(service)
        request = self.vendor.cancel_request(spec, task_id)
        if request is None:
            return None
        return await self.arun_flow(cancel_flow(self.vendor, spec, request, self.retry), spec, [task_id])

    def find_submissions(
        self, submissions: Sequence[Submission], window: tuple[float, float]
    ) -> list[SubmissionSearch]:
        """For each submission, the tasks created in ``window`` (epoch seconds) whose stored request holds
        every field it sent; the window is read page by page, once for all of them."""
        spec = submissions[0].spec
        records: list[dict[str, Any]] = []
        unread = 0
        for _ in range(MAX_SEARCH_PAGES):
            page = self.run_flow(search_page_flow(self.vendor, spec, window, len(records), self.retry), spec)
            records += page.records
            unread = max((page.total or 0) - len(records), 0)
            if not page.records or not unread:
                break
        return [match_submissions(records, submission.sent_fields, unread) for submission in submissions]

    def test_connection(self) -> tuple[bool, str]:
        """One cheap authenticated call that creates nothing (never a generation)."""
        try:
            settings = self.settings
            self.run_flow(probe_flow(self.vendor), None)
        except InvalidInputError as err:
            return False, f"Connection is not usable: {err}"
        except ApiError as err:
            if is_token_error(err):
                return False, f"{self.vendor.label} rejected the API token ({err.code or err.status})"
            if err.code in ("connect", "timeout_after_send", "timeout_before_send"):
                return False, f"{self.vendor.label} host {self.settings.base_url} is unreachable: {err.detail}"
            return False, str(err)
        finally:
            self.close()
        return True, f"{self.vendor.label} accepted the API token at {settings.base_url}"


# ------------------------------------------------------------------------------------------------
# Connections and hook classes
# ------------------------------------------------------------------------------------------------


def connection_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def missing_connection(conn_id: str, vendor: Vendor | None) -> InvalidInputError:
    """The error for a connection id Airflow does not know: how to define it, with its type."""
    vendors = [vendor] if vendor is not None else all_vendors()
    types = " or ".join(f"{v.conn_type!r} ({v.label})" for v in vendors)
    example = json.dumps({"conn_type": vendors[0].conn_type, "password": "<your API token>"})
    return InvalidInputError(
        "conn_id",
        f"connection {conn_id!r} is not defined. Add it in Admin -> Connections with connection type {types} "
        f"and the API token as its password, or set the environment variable {connection_env_var(conn_id)}="
        f"'{example}' where the tasks and the triggerer run",
    )


def defined_connection(conn_id: str, lookup: Callable[[str], Connection], vendor: Vendor | None = None) -> Connection:
    try:
        return lookup(conn_id)
    except AirflowNotFoundException:
        raise missing_connection(conn_id, vendor) from None


async def adefined_connection(
    conn_id: str, lookup: Callable[[str], Awaitable[Connection]], vendor: Vendor | None = None
) -> Connection:
    try:
        return await lookup(conn_id)
    except AirflowNotFoundException:
        raise missing_connection(conn_id, vendor) from None


def vendor_of_connection(conn_id: str, conn_type: str | None) -> Vendor:
    """The vendor a connection's type names; the error names the connection (before any request)."""
    try:
        return vendor_for_conn_type(conn_type)
    except InvalidInputError as err:
        raise InvalidInputError("conn_type", f"connection {conn_id!r}: {err.problem}") from None


def hook_for_connection(conn_id: str, **kwargs: Any) -> VideoApiHook:
    """The vendor hook for ``conn_id``, chosen by the connection's type."""
    return hook_from_connection(defined_connection(conn_id, BaseHook.get_connection), conn_id, **kwargs)


async def ahook_for_connection(conn_id: str, **kwargs: Any) -> VideoApiHook:
    return hook_from_connection(await adefined_connection(conn_id, BaseHook.aget_connection), conn_id, **kwargs)


def hook_from_connection(conn: Connection, conn_id: str, **kwargs: Any) -> VideoApiHook:
    """The vendor hook for a connection already read (the API server reads it from its own secrets backends
    and metadata DB, where a task's way of asking for it is not available), chosen by its type."""
    hook = hook_class(vendor_of_connection(conn_id, conn.conn_type))(conn_id, **kwargs)
    hook._connection = conn  # the hook reads its settings from it instead of looking it up again
    return hook


@functools.cache
def hook_class(vendor: Vendor) -> type[VideoApiHook]:
    """The vendor's registered hook class, or one derived from the vendor (a vendor needs no hook code)."""
    if vendor.hook_class:
        return import_string(vendor.hook_class)
    return type(f"{type(vendor).__name__}Hook", (VideoApiHook,), {"__module__": __name__}, vendor=vendor)


__all__ = [
    "NO_RETRY", "VideoApiHook", "ahook_for_connection", "hook_class", "hook_for_connection", "hook_from_connection",
]  # fmt: skip
