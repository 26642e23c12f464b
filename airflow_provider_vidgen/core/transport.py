"""Sans-IO request flows shared by the sync and async hooks.

A flow is a generator that yields what to do next (an :class:`ApiRequest` to send, or a
:class:`Sleep`) and receives what happened (an :class:`HttpResponse` or a :class:`TransportFailure`).
The retry policy lives here once; the hooks only drive the generator with httpx, sync or async.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from airflow_provider_vidgen.core.errors import AmbiguousSubmissionError, ApiError

T = TypeVar("T")
log = logging.getLogger(__name__)

RequestKind = Literal["submit", "retrieve", "retrieve_batch", "probe", "cancel"]


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    kind: RequestKind
    json: Any = None
    params: Mapping[str, str] | None = None

    @property
    def idempotent(self) -> bool:
        return self.kind != "submit"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


TransportFailureKind = Literal["connect", "timeout_before_send", "timeout_after_send", "other"]


@dataclass(frozen=True)
class TransportFailure:
    """A request that got no HTTP answer. ``kind`` says whether the request may have arrived."""

    kind: TransportFailureKind
    detail: str


@dataclass(frozen=True)
class Sleep:
    seconds: float
    retrying: str = ""  # why: the failed attempt, logged by the driver before it waits


Outcome = HttpResponse | TransportFailure
Flow = Generator[ApiRequest | Sleep, Outcome | None, T]

USER_AGENT = "airflow-provider-vidgen"

# Statuses after which the same request may succeed later.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter (a random delay in the upper half of the current step);
    ``Retry-After`` wins when the server sends one."""

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    # Whether a 429 uses up an attempt. A batch's submissions say no: a token shared with other tasks
    # slows down and keeps going (its pace adapts, ``core.pace``), and ends only at a deadline.
    count_throttles: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay * 4)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def ambiguous_submission(vendor: str, what: str) -> AmbiguousSubmissionError:
    """The error for a submission that may have created a paid task: it says how to find out."""
    sent = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return AmbiguousSubmissionError(
        vendor,
        f"{what}; the submission may or may not have created a paid task, so it was not resent. "
        f"Look for a task created around {sent} in the {vendor} console (task history) before retrying: "
        "if there is one, wait for its id with VideoTaskSensor; if there is none, clear this task to submit again.",
        code="ambiguous_submission",
    )


def transport_error(vendor: str, failure: TransportFailure, request: ApiRequest) -> ApiError:
    """Map a request that got no answer to an ApiError; a submit whose body may have arrived is ambiguous."""
    if failure.kind == "timeout_after_send" and request.kind == "submit":
        return ambiguous_submission(vendor, f"no answer after the submission was sent ({failure.detail})")
    return ApiError(
        vendor,
        f"{failure.kind.replace('_', ' ')} error: {failure.detail}",
        code=failure.kind,
        retryable=True,
        nothing_created=failure.kind in ("connect", "timeout_before_send"),
    )


def json_body(vendor: str, outcome: Outcome, request: ApiRequest) -> Any:
    """The answer's JSON (None when the body is not JSON); raises for a request that got no answer."""
    if isinstance(outcome, TransportFailure):
        raise transport_error(vendor, outcome, request)
    try:
        return outcome.json()
    except ValueError:
        return None


def call(
    request: ApiRequest,
    interpret: Callable[[Outcome], T],
    retry: RetryPolicy,
) -> Flow[T]:
    """Send ``request`` until ``interpret`` accepts the outcome or retrying is unsafe or exhausted.

    A submission is resent only when the failed attempt provably created nothing; idempotent
    requests (polls) are resent after any retryable failure.
    """
    attempt = throttled = 0
    while True:
        outcome = yield request
        assert outcome is not None
        try:
            return interpret(outcome)
        except ApiError as err:
            safe = err.retryable and (request.idempotent or err.nothing_created)
            if not request.idempotent and err.retryable and not err.nothing_created:
                if isinstance(err, AmbiguousSubmissionError):
                    raise
                # e.g. a bare 502/503 from a proxy, or a garbled 200: the vendor may have accepted it.
                raise ambiguous_submission(
                    err.vendor, f"the submission failed without proof that nothing was created ({err})"
                ) from None
            if safe and err.rate_limited and not retry.count_throttles:
                # No growing backoff here: the token's pace (core.pace) slows every request down already.
                throttled += 1
                note = f"{request.method} {request.path}: rate limited ({throttled} in a row; {err.summary})"
                yield Sleep(retry.delay(1, err.retry_after), note)
                continue
            attempt += 1
            if not safe or attempt >= retry.max_attempts:
                raise
            note = f"{request.method} {request.path}: attempt {attempt} of {retry.max_attempts} failed ({err.summary})"
            yield Sleep(retry.delay(attempt, err.retry_after), note)


def log_retry(step: Sleep) -> None:
    if step.retrying:
        log.warning("%s; next attempt in %.1fs", step.retrying, step.seconds)


def run_sync(flow: Flow[T], send: Callable[[ApiRequest], Outcome], sleep: Callable[[float], None]) -> T:
    """Drive a flow with blocking I/O."""
    step = next(flow)
    while True:
        if isinstance(step, Sleep):
            log_retry(step)
        outcome = sleep(step.seconds) if isinstance(step, Sleep) else send(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            return stop.value


async def run_async(flow: Flow[T], send: Callable[[ApiRequest], Any], sleep: Callable[[float], Any]) -> T:
    """Drive a flow with asyncio I/O (``send`` and ``sleep`` are coroutine functions)."""
    step = next(flow)
    while True:
        if isinstance(step, Sleep):
            log_retry(step)
        outcome = await sleep(step.seconds) if isinstance(step, Sleep) else await send(step)
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            return stop.value
