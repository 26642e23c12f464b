"""What every request on a token waits for before it goes out, and what its answer teaches (the hook's own).

A request goes out when (in this order):

1. its **kind's pace** gives it a slot: a submission the pace of its service (the vendor's published submit
   rate, ``core.limits``: Sora 0.5/s), every other request (polls, pokes, confirmations, lookups) the
   token's status pace (``max_polls_per_second``). A 429 slows only that pace, so a 429 on Sora slows
   Sora's submissions, not Hailuo's or the polls; a ``Retry-After`` pauses that pace for every process;
2. a submission also takes a slot of the **token's submissions** (``max_requests_per_second``, every
   service together). Status requests never queue behind submissions: a confirmation or a poll waits
   only for the status pace;
3. a submission is not refused in advance for a balance someone on the token found used up;
4. it holds a **lease** of its service category's in-flight limit (5 video requests per token), kept
   while the request is open and given back with its answer. Leases live in the same store as the paces
   (``hooks.pace``), so every process on the token shares them; they expire, so a killed worker's leases
   come back.

Past the hook's ``deadline`` (a batch's ``submit_timeout``) nothing more is sent: nothing was created.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.core.settings import ApiSettings
from airflow_provider_vidgen.core.transport import ApiRequest, HttpResponse, Outcome
from airflow_provider_vidgen.hooks.pace import InFlight, TokenPace, in_flight_for, pace_for, pace_key

# A lease outlives its request's timeout by this much before it counts as given back (a killed process).
LEASE_MARGIN_SECONDS = 30.0


@dataclass
class Waits:
    """What one request waited for: its paces and its lease."""

    paces: tuple[TokenPace, ...]
    in_flight: InFlight | None


class RequestGate:
    """The paces, leases and balance watch of one token, as one hook uses them (see the module docstring)."""

    def __init__(self, label: str, settings: ApiSettings, token: str) -> None:
        self.label = label
        self.settings = settings
        self.key = pace_key(settings.base_url, token)
        store = settings.shared_pace
        self.ceiling = pace_for(store, self.key, settings.max_requests_per_second)
        # Status requests take a slot of their own, slower pace too (the vendor's polling limit).
        self.status = pace_for(store, f"{self.key}-polls", settings.max_polls_per_second or 0)
        self.balance_marks: int | None = None  # the token's used-up marks when watch_balance() was called
        self.waited = 0.0  # seconds this hook's requests waited for slots and leases (logs)
        self.sent = 0  # requests sent through this gate, and how many were answered 429 (logs, tests)
        self.throttled = 0

    # ------------------------------------------------------------ what a request waits for

    def submit_rate(self, spec: ServiceSpec) -> float:
        """Submissions per second of the service: its published (or the connection's) rate, under the ceiling."""
        settings = self.settings
        rate = settings.limits.submit_rate_for(spec.name, spec.limits) or settings.max_requests_per_second
        return min(rate, settings.max_requests_per_second)

    def in_flight_limit(self, spec: ServiceSpec | None) -> int:
        """Requests open at once on the service's category (0: no cap)."""
        return self.settings.limits.in_flight_for(spec.name, spec.limits) if spec is not None else 0

    def waits(self, request: ApiRequest | None, spec: ServiceSpec | None) -> Waits:
        store = self.settings.shared_pace
        if request is None or request.kind != "submit":
            paces: tuple[TokenPace, ...] = (self.status,)
        else:
            assert spec is not None, "a submission is always of a service"
            key = f"{self.key}-submit-{spec.limits.rate_key(spec.name)}"
            paces = (pace_for(store, key, self.submit_rate(spec)), self.ceiling)
        limit = self.in_flight_limit(spec)
        if not limit or spec is None:
            return Waits(paces, None)
        ttl = self.settings.timeout + LEASE_MARGIN_SECONDS
        return Waits(paces, in_flight_for(store, f"{self.key}-in-flight-{spec.limits.group}", limit, ttl))

    def send(
        self, request: ApiRequest, spec: ServiceSpec | None, deadline: float | None, call: Callable[[], Outcome]
    ) -> Outcome:
        """Wait for the request's turn (blocking), ``call`` it holding its lease, and learn from the answer."""
        waits = self.waits(request, spec)
        started = time.monotonic()
        for pace in waits.paces:
            if pace.wait(deadline) < 0:
                raise self.past_deadline()
        if request.kind == "submit":
            self.check_balance()
        lease = waits.in_flight.hold(deadline) if waits.in_flight else None
        if waits.in_flight and lease is None:
            raise self.past_deadline()
        self.waited += time.monotonic() - started
        try:
            if held := waits.paces[0].held():  # a Retry-After came while this request waited
                time.sleep(held)
            return self.observe(waits, call())
        finally:
            if waits.in_flight and lease:
                waits.in_flight.give_back(lease)

    async def asend(
        self, request: ApiRequest, spec: ServiceSpec | None, call: Callable[[], Awaitable[Outcome]]
    ) -> Outcome:
        """The same from the event loop (nothing blocks it: the stores are asked in threads)."""
        waits, started = self.waits(request, spec), time.monotonic()
        for pace in waits.paces:
            await pace.await_slot()
        if request.kind == "submit":
            self.check_balance()
        lease = await waits.in_flight.ahold() if waits.in_flight else None
        self.waited += time.monotonic() - started
        try:
            if held := waits.paces[0].held():
                await asyncio.sleep(held)
            outcome = await call()
            self.count(outcome)
            # Heard before any other await, so the next request of this loop already waits a Retry-After out.
            if retry_after := waits.paces[0].heard(outcome):
                await asyncio.to_thread(waits.paces[0].pause_everyone, retry_after)
            return outcome
        finally:
            if waits.in_flight and lease:
                await asyncio.to_thread(waits.in_flight.give_back, lease)

    def observe(self, waits: Waits, outcome: Outcome) -> Outcome:
        """A 429 slows the request's own pace (not the token's); ``Retry-After`` pauses that pace for everyone."""
        self.count(outcome)
        waits.paces[0].observe(outcome)
        return outcome

    def count(self, outcome: Outcome) -> None:
        self.sent += 1
        if isinstance(outcome, HttpResponse) and outcome.status == 429:
            self.throttled += 1

    def past_deadline(self) -> ApiError:
        return ApiError(self.label, "the submission deadline passed", code="deadline", nothing_created=True)

    # ------------------------------------------------------------ an exhausted balance

    def watch_balance(self) -> None:
        """From now on, no submission is sent once any process on the token was refused for its balance (a
        mark set earlier stops nothing: a try started after a top-up submits)."""
        self.balance_marks = self.ceiling.used_up_marks()

    def check_balance(self) -> None:
        """Called after the pace's wait, so a submission that waited for its slot is not sent into a refusal."""
        if self.balance_marks is not None and self.ceiling.used_up_marks() > self.balance_marks:
            message = "not sent: a request on this token was refused for its used-up balance during this try"
            raise ApiError(self.label, message, code="used_up", nothing_created=True)

    def note_used_up(self) -> None:
        self.ceiling.note_used_up()
