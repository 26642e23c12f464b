"""The vendor-callback receiver, served by Airflow's API server (``POST /vidgen/callbacks/<conn>/<ticket>``).

A callback is a hint, never proof: the vendors sign nothing. And it must be answered at once, whatever the
load: the vendors' rule is "return 2xx quickly", no retry is documented, and callbacks come in bursts (a
batch's videos finish together). So the request does no I/O beyond what it cannot do without:

1. who may post is decided by the URL: its ticket (``core.tickets``) must verify, in constant time, with
   the key of the connection it names (cached per connection, misses too); anything else is answered like
   an unknown URL, with no DB query. A connection's key is looked up (the secrets backend) only for a
   ticket that reads as one for its URL (right shape, this connection, unexpired, a known vendor and
   service), at most once a minute per id, and for ids that never had a key here at most ``LOOKUP_BURST``
   at once then one per ``LOOKUP_EVERY_SECONDS``: a flood of made-up URLs looks nothing up, and one of
   well-formed tickets naming made-up connections costs a bounded trickle;
2. the body is read under a size cap and a deadline, parsed under a depth cap, and only says which vendor
   task it is about;
3. a callback claiming a final state is recorded as a claim in the store the connection shares its pace
   through (``plugins.claims``: files on one machine, Redis with Celery), bounded per ticket and per task
   instance, and answered ``200 recorded``. Nothing else happens in the request.

The confirmer (``plugins.confirmer``), in the background, checks each claim against what the ticket's
submission recorded, confirms the ids on the vendor's own API in bulk and resumes the waiting task
instances. A forged or replayed body can never put a URL of its choosing into XCom.

Duplicates, late callbacks, callbacks for finished or cleared tasks, oversized and non-JSON bodies end
without effect and without an error line anywhere; nothing answered or logged names a ticket or a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from airflow_provider_vidgen.core.settings import api_settings
from airflow_provider_vidgen.core.tickets import Ticket, callback_key, peek_ticket, read_ticket
from airflow_provider_vidgen.core.vendor import get_vendor, vendor_for_conn_type
from airflow_provider_vidgen.plugins.claims import Claim, claims_for
from airflow_provider_vidgen.plugins.confirmer import CONFIRMER

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # callbacks are small JSON documents; anything larger is not one
BODY_DEADLINE_SECONDS = 10.0  # a body that trickles in slower than this is no vendor's callback
MAX_JSON_DEPTH = 32  # the vendors' callbacks nest 3 or 4 deep
KEY_TTL_SECONDS = 60.0  # a connection's ticket key (or its absence) is looked up at most this often
UNREACHABLE_TTL_SECONDS = 5.0  # after the secrets backend failed (not "no such connection"): ask again soon
KEYS_KEPT = 1024
LOOKUP_BURST = 10  # lookups of connection ids that never had a key here, at once ...
LOOKUP_EVERY_SECONDS = 6.0  # ... then one per this long (known ids are always looked up again)
STORE_RETRY_SECONDS = 10.0  # a claims store that failed is not tried again for this long
CONN_ID = re.compile(r"[\w.-]{1,250}")  # what Airflow allows in a connection id
MAX_TASK_ID_CHARS = 200  # vendor task ids are UUIDs or short numbers

router = APIRouter()


@dataclass(frozen=True)
class CallbackAnswer:
    """What became of one callback (the status code and a word for the vendor; details only in debug logs)."""

    status: int
    effect: str


IGNORED = CallbackAnswer(202, "ignored")  # accepted, no effect: a vendor has nothing to retry


@router.post("/callbacks/{conn_id}/{ticket}")
async def receive(conn_id: str, ticket: str, request: Request) -> Response:
    redact_path(request.scope)  # before anything can fail: the access log reads the path when it ends
    CONFIRMER.ensure_started()
    # The ticket first, before the body is read: the key is cached per connection (misses too), so only a
    # connection's first callback in a minute looks it up (in a thread); the rest is CPU only.
    found = connection_signer_cached(conn_id)
    if found is _NOT_CACHED:
        if not may_look_up(conn_id, ticket):
            return answer(CallbackAnswer(404, "unknown"))
        found = await run_in_threadpool(connection_signer, conn_id)
    if found is _UNREACHABLE:
        return answer(CallbackAnswer(503, "connection unavailable"))
    signed = verified(conn_id, ticket, found)
    if signed is None:
        return answer(CallbackAnswer(404, "unknown"))
    try:
        body = await asyncio.wait_for(read_capped(request), BODY_DEADLINE_SECONDS)
    except asyncio.TimeoutError:
        return answer(CallbackAnswer(408, "too slow"))
    except ClientDisconnect:
        return answer(CallbackAnswer(400, "gone"))  # nobody reads it; what matters is no 500 and no traceback
    if body is None:
        return answer(CallbackAnswer(413, "too large"))
    payload = parsed(body)
    if payload is None:
        return answer(CallbackAnswer(400, "not json"))
    claim = claimed(signed, payload)
    if claim is None:
        return answer(IGNORED)  # an intermediate state (Luma calls at every change): the final callback will come
    kept = await run_in_threadpool(record, signed.shared_pace, claim)
    if not kept:
        return answer(CallbackAnswer(202, "over limit"))
    CONFIRMER.wake()
    return answer(CallbackAnswer(200, "recorded"))


def answer(outcome: CallbackAnswer) -> JSONResponse:
    return JSONResponse({"accepted": outcome.status < 300, "effect": outcome.effect}, status_code=outcome.status)


def redact_path(scope: Any) -> None:
    """The request's path without its ticket, for every access log that reads it afterwards (Airflow's, and
    uvicorn's on older lines): a ticket is a credential for its submission's callbacks."""
    path = scope.get("path", "")
    head, marker, rest = path.partition("/callbacks/")
    if marker:
        conn_id = rest.split("/", 1)[0]
        scope["path"] = f"{head}{marker}{conn_id}/***"
        scope["raw_path"] = scope["path"].encode()


def parsed(body: bytes) -> Any:
    """The JSON body, or None: not JSON, or nested deeper than any vendor's callback. The C parser stops a
    body 200,000 levels deep with a RecursionError at once; the depth is then measured on what it built, so
    brackets inside strings (a prompt may hold any) do not count."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return payload if nested_within(payload, MAX_JSON_DEPTH) else None


def nested_within(value: Any, limit: int) -> bool:
    """Whether no list or object in ``value`` lies deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


async def read_capped(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY_BYTES (read no further than that)."""
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY_BYTES:
        return None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Signer:
    """What the receiver keeps of a connection: its vendor, its ticket key, and where its claims go."""

    vendor: Any
    key: bytes = field(repr=False)
    shared_pace: str = "auto"


@dataclass(frozen=True)
class Signed:
    """A callback whose ticket verified."""

    ticket: Ticket
    vendor: Any
    conn_id: str
    shared_pace: str


def verified(conn_id: str, ticket_text: str, signer: Signer | None) -> Signed | None:
    """The ticket, if it was made with the connection's key for this connection and has not expired."""
    if signer is None:
        return None
    ticket = read_ticket(signer.key, ticket_text)
    if ticket is None or not ticket.valid_for(conn_id, time.time()):
        return None
    if ticket.vendor != signer.vendor.name or ticket.service not in signer.vendor.services:
        return None
    return Signed(ticket, signer.vendor, conn_id, signer.shared_pace)


def claimed(signed: Signed, payload: Any) -> Claim | None:
    """The claim a verified callback makes: its vendor task is final (None: it claims nothing final)."""
    t = signed.ticket
    try:
        task_id, claims_final = signed.vendor.read_callback(signed.vendor.service(t.service), payload)
    except Exception:  # whatever a hostile body makes a vendor's reader raise (OverflowError too): no claim
        return None
    if not task_id or not claims_final or not isinstance(task_id, str) or len(task_id) > MAX_TASK_ID_CHARS:
        return None
    return Claim(signed.conn_id, t.vendor, t.service, t.dag_id, t.run_id, t.task_id, t.map_index, t.item,
                 task_id, time.time(), expires=float(t.expires))  # fmt: skip


def record(shared_pace: str, claim: Claim) -> bool:
    """Keep the claim durably; a Redis that cannot be reached leaves it in this machine's files instead, and
    is not tried again for STORE_RETRY_SECONDS (each try would hold a callback for the client's timeout)."""
    if _store_down_until.get(shared_pace, 0.0) <= clock():
        try:
            return claims_for(shared_pace).record(claim)
        except Exception as err:
            _store_down_until[shared_pace] = clock() + STORE_RETRY_SECONDS
            log.warning("vendor callback claims store unreachable (%s); kept on this machine", type(err).__name__)
    return claims_for("file").record(claim)


_store_down_until: dict[str, float] = {}  # claims stores that failed, by setting: when to try them again


class Recent(OrderedDict[str, Any]):
    """A dict that keeps only its ``size`` most recently set or read keys (the receiver's caches are bounded)."""

    def __init__(self, size: int = KEYS_KEPT) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


clock: Callable[[], float] = time.monotonic  # the key cache's and the lookup budget's (tests move it)
_signers: Recent = Recent()  # conn id -> (fresh until, Signer or None or _UNREACHABLE)
_known: Recent = Recent()  # ids that had a key here: looked up again whatever the budget
_signers_lock = threading.Lock()
# One lookup at a time per connection id (striped: bounded, whatever the ids): when a busy connection's key
# falls due, the callbacks that find it so wait for the one lookup instead of each making their own.
_lookup_locks = tuple(threading.Lock() for _ in range(64))
_NOT_CACHED: Any = object()
_UNREACHABLE: Any = object()  # the secrets backend failed: neither a key nor "no such connection"


class LookupBudget:
    """Lookups of connection ids that never had a key here: ``burst`` at once, then one per ``every`` seconds
    (a token bucket on ``clock``). What a flood of well-formed tickets naming made-up connections can cost."""

    def __init__(self, burst: int = LOOKUP_BURST, every: float = LOOKUP_EVERY_SECONDS) -> None:
        self.burst, self.every = burst, every
        self.tokens, self.at = float(burst), None

    def take(self, now: float) -> bool:
        if self.at is not None:
            self.tokens = min(float(self.burst), self.tokens + (now - self.at) / self.every)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


_budget = LookupBudget()


def forget_signers() -> None:
    """Look every connection up again at its next callback, budget refilled (tests that change a token)."""
    global _budget
    with _signers_lock:
        _signers.clear()
        _known.clear()
        _budget = LookupBudget()


def may_look_up(conn_id: str, ticket_text: str) -> bool:
    """Whether this callback may cost a lookup of its connection: its ticket must read as one for its URL
    (unsigned: CPU only), and an id that never had a key here must find the budget not spent."""
    ticket = peek_ticket(ticket_text)
    if ticket is None or not ticket.valid_for(conn_id, time.time()):
        return False
    try:
        if ticket.service not in get_vendor(ticket.vendor).services:
            return False
    except Exception:  # not a vendor of this installation
        return False
    with _signers_lock:
        return conn_id in _known or _budget.take(clock())


def connection_signer_cached(conn_id: str) -> Signer | None:
    """The connection's signer if it is cached and fresh (no I/O); ``_NOT_CACHED`` otherwise."""
    if not CONN_ID.fullmatch(conn_id):
        return None
    with _signers_lock:
        cached = _signers.get(conn_id)
        if cached is not None and cached[0] > clock():
            _signers.move_to_end(conn_id)
            return cached[1]
    return _NOT_CACHED


def connection_signer(conn_id: str) -> Signer | None:
    """The connection's vendor, ticket key and claims store; None for what is not a video vendor's connection
    with a token. Looked up at most once per KEY_TTL_SECONDS per id, absences included (a rotated token's
    tickets verify within that time; until then their tasks wait for the safety poll), and only for a
    well-formed id; a failing secrets backend is asked again after UNREACHABLE_TTL_SECONDS."""
    cached = connection_signer_cached(conn_id)
    if cached is not _NOT_CACHED:
        return cached
    with _lookup_locks[hash(conn_id) % len(_lookup_locks)]:
        cached = connection_signer_cached(conn_id)  # looked up while this one waited for the lock
        if cached is not _NOT_CACHED:
            return cached
        signer = _look_up_signer(conn_id)
        ttl = UNREACHABLE_TTL_SECONDS if signer is _UNREACHABLE else KEY_TTL_SECONDS
        with _signers_lock:
            _signers.keep(conn_id, (clock() + ttl, signer))
            if isinstance(signer, Signer):
                _known.keep(conn_id, None)
    return signer


def _look_up_signer(conn_id: str) -> Signer | None:
    from airflow.exceptions import AirflowNotFoundException

    try:
        conn = _connection(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as err:  # the backend failing is not "no such connection": its callbacks get a 503
        log.warning("vendor callback: looking up a connection failed (%s)", type(err).__name__)
        return _UNREACHABLE
    try:
        vendor = vendor_for_conn_type(conn.conn_type)
        shared_pace = api_settings(vendor, conn.host, conn.extra_dejson).shared_pace
    except Exception:  # not a video vendor's connection, or unusable settings: an unknown URL
        return None
    return Signer(vendor, callback_key(conn.password), shared_pace) if conn.password else None


def _connection(conn_id: str) -> Any:
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)
