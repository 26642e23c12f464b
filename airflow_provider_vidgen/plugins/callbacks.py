"""The vendor-callback receiver, served by Airflow's API server (``POST /vidgen/callbacks/<conn>/<ticket>``).

A callback is a hint, never proof: the vendors sign nothing. And it must be answered at once, whatever the
load: the vendors' rule is "return 2xx quickly", no retry is documented, and callbacks come in bursts (a
batch's videos finish together). So the request does no I/O beyond what it cannot do without:

1. who may post is decided by the URL: its ticket (``core.tickets``) must verify, in constant time, with
   the key of the connection it names (cached per connection, misses too); anything else is answered like
   an unknown URL, with no DB query and, after the first per connection id, no secrets lookup;
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
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_vidgen.core.settings import api_settings
from airflow_provider_vidgen.core.tickets import Ticket, callback_key, read_ticket
from airflow_provider_vidgen.core.vendor import vendor_for_conn_type
from airflow_provider_vidgen.plugins.claims import Claim, claims_for
from airflow_provider_vidgen.plugins.confirmer import CONFIRMER

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # callbacks are small JSON documents; anything larger is not one
BODY_DEADLINE_SECONDS = 10.0  # a body that trickles in slower than this is no vendor's callback
MAX_JSON_DEPTH = 32  # the vendors' callbacks nest 3 or 4 deep
KEY_TTL_SECONDS = 60.0  # a connection's ticket key (or its absence) is looked up at most this often
KEYS_KEPT = 1024
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
        found = await run_in_threadpool(connection_signer, conn_id)
    signed = verified(conn_id, ticket, found)
    if signed is None:
        return answer(CallbackAnswer(404, "unknown"))
    try:
        body = await asyncio.wait_for(read_capped(request), BODY_DEADLINE_SECONDS)
    except asyncio.TimeoutError:
        return answer(CallbackAnswer(408, "too slow"))
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
    """The JSON body, or None: not JSON, or nested deeper than any vendor's callback (checked before parsing,
    so a body 200,000 levels deep costs a scan, not a RecursionError)."""
    depth = 0
    for byte in body:
        if byte in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return None
        elif byte in b"]}":
            depth -= 1
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


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
                 task_id, time.time())  # fmt: skip


def record(shared_pace: str, claim: Claim) -> bool:
    """Keep the claim durably; a Redis that cannot be reached leaves it in this machine's files instead."""
    try:
        return claims_for(shared_pace).record(claim)
    except Exception as err:
        log.warning("vendor callback claims store unreachable (%s); kept on this machine", type(err).__name__)
        return claims_for("file").record(claim)


_signers: OrderedDict[str, tuple[float, Signer | None]] = OrderedDict()
_signers_lock = threading.Lock()
_NOT_CACHED: Any = object()


def forget_signers() -> None:
    """Look every connection up again at its next callback (tests that change a connection's token)."""
    with _signers_lock:
        _signers.clear()


def connection_signer_cached(conn_id: str) -> Signer | None:
    """The connection's signer if it is cached and fresh (no I/O); ``_NOT_CACHED`` otherwise."""
    if not CONN_ID.fullmatch(conn_id):
        return None
    with _signers_lock:
        cached = _signers.get(conn_id)
        if cached is not None and cached[0] > time.monotonic():
            _signers.move_to_end(conn_id)
            return cached[1]
    return _NOT_CACHED


def connection_signer(conn_id: str) -> Signer | None:
    """The connection's vendor, ticket key and claims store; None for what is not a video vendor's connection
    with a token. Looked up at most once per KEY_TTL_SECONDS per id, absences included (a rotated token's
    tickets verify within that time; until then their tasks wait for the safety poll), and only for a
    well-formed id."""
    cached = connection_signer_cached(conn_id)
    if cached is not _NOT_CACHED:
        return cached
    signer = _look_up_signer(conn_id)
    with _signers_lock:
        _signers[conn_id] = (time.monotonic() + KEY_TTL_SECONDS, signer)
        _signers.move_to_end(conn_id)
        while len(_signers) > KEYS_KEPT:
            _signers.popitem(last=False)
    return signer


def _look_up_signer(conn_id: str) -> Signer | None:
    try:
        conn = _connection(conn_id)
        vendor = vendor_for_conn_type(conn.conn_type)
        shared_pace = api_settings(vendor, conn.host, conn.extra_dejson).shared_pace
    except Exception:  # no such connection, not a video vendor's, or unusable settings: an unknown URL
        return None
    return Signer(vendor, callback_key(conn.password), shared_pace) if conn.password else None


def _connection(conn_id: str) -> Any:
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)
