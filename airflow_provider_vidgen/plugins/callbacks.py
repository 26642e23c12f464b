"""The vendor-callback receiver, served by Airflow's API server (``POST /vidgen/callbacks/<conn>/<ticket>``).

A callback is a hint, never proof: the vendors sign nothing. So:

1. who may post is decided by the URL: its ticket (``core.tickets``) must verify, in constant time, with
   the key of the connection it names; anything else is answered like an unknown URL;
2. the body only says which vendor task it is about, and that must be the task the ticket's submission
   recorded (its ``vendor_task_id`` XCom);
3. a callback claiming a final state is noted (an XCom of the deferred task instance that waits on the
   task: the submitter's own, or a sensor's in the same run), nothing more;
4. once every id a waiting task instance waits on has been claimed final, all of them are confirmed on the
   vendor's own API (one ``retrieve_batch`` per ``batch_size`` ids; one retrieve for a single video) and,
   if every one is final there, the task is resumed with the event its trigger would have fired, built
   from the API's answers only (``Trigger.submit_event``, as Airflow's human-in-the-loop route does). A
   forged or replayed body can never put a URL of its choosing into XCom. Claims the API does not confirm
   are dropped. The trigger's slow safety poll covers callbacks that never come.

Duplicates, late callbacks, callbacks for finished or cleared tasks, oversized and non-JSON bodies end
without effect and without an error line anywhere; nothing answered or logged names a ticket or a token.
The receiver keeps no state of its own: everything is in the metadata DB, so any API server can answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.tickets import Ticket, callback_key, read_ticket
from airflow_provider_vidgen.core.vendor import vendor_for_conn_type
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # callbacks are small JSON documents; anything larger is not one
BODY_DEADLINE_SECONDS = 10.0  # a body that trickles in slower than this is no vendor's callback
MAX_JSON_DEPTH = 32  # the vendors' callbacks nest 3 or 4 deep
KEY_TTL_SECONDS = 60.0  # a connection's ticket key (or its absence) is looked up at most this often
KEYS_KEPT = 1024
CONN_ID = re.compile(r"[\w.-]{1,250}")  # what Airflow allows in a connection id
CLAIMED_PREFIX = "vidgen_callback:"  # XCom key, on a waiting task instance, of a vendor task claimed final
# Callbacks handled at once per API server process: each holds a metadata-DB connection, and the API
# server's pool (5 + 10 by default) also serves the tasks' execution API, which a burst must not starve.
MAX_CONCURRENT_CALLBACKS = 4

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
    try:
        body = await asyncio.wait_for(read_capped(request), BODY_DEADLINE_SECONDS)
    except asyncio.TimeoutError:
        return answer(CallbackAnswer(408, "too slow"))
    if body is None:
        return answer(CallbackAnswer(413, "too large"))
    # What needs no database comes first (the key is cached per connection, misses too), and outside the
    # bound on callbacks handled at once: a flood of bad URLs neither touches the DB nor delays real ones.
    found = await run_in_threadpool(verified, conn_id, ticket)
    if found is None:
        return answer(CallbackAnswer(404, "unknown"))
    payload = parsed(body)
    if payload is None:
        return answer(CallbackAnswer(400, "not json"))
    async with _handling():
        return answer(await run_in_threadpool(handle, found, payload))


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


_semaphores: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _handling() -> asyncio.Semaphore:
    """This event loop's bound on callbacks handled at once (one per loop: tests run several)."""
    loop = asyncio.get_running_loop()
    if loop not in _semaphores:
        _semaphores[loop] = asyncio.Semaphore(MAX_CONCURRENT_CALLBACKS)
    return _semaphores[loop]


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


def handle(found: tuple[Ticket, Any, str], payload: Any) -> CallbackAnswer:
    """Note the claim of a verified callback, and confirm and resume once a waiting task's every id is claimed."""
    ticket, vendor, conn_id = found
    task_id, claims_final = vendor.read_callback(vendor.service(ticket.service), payload)
    if not task_id or not claims_final:
        return IGNORED  # an intermediate state (Luma calls at every change): the final callback will come
    from airflow.utils.session import create_session

    with create_session() as session:
        waiting = Waiting(session, ticket, task_id)
        if waiting.still_submitting():
            # Its task has not deferred yet (a large batch can take longer to submit than a video to
            # render): keep the claim for when it waits, checked against the ids it records by then.
            waiting.note_early_claim()
            return CallbackAnswer(200, "recorded")
        if not waiting.owner_submitted_it():
            return IGNORED
        complete = waiting.claim()
    if not waiting.tis:
        return IGNORED
    resumed = False
    for ti_key, trigger in complete:
        results = confirm(conn_id, trigger.service, trigger.task_ids)
        with create_session() as session:
            resumed |= Waiting(session, ticket, task_id).settle(ti_key, trigger, results)
    effect = "resumed" if resumed else "unconfirmed" if complete else "recorded"
    log.debug("vendor callback for %s %s task %s: %s", vendor.name, ticket.service, task_id, effect)
    return CallbackAnswer(200, effect)


def verified(conn_id: str, ticket_text: str) -> tuple[Ticket, Any, Any] | None:
    """The ticket, the connection's vendor and the connection, if the ticket was made with its key for this
    connection and has not expired."""
    signer = connection_signer(conn_id)
    if signer is None:
        return None
    vendor, key = signer
    ticket = read_ticket(key, ticket_text)
    if ticket is None or not ticket.valid_for(conn_id, time.time()):
        return None
    if ticket.vendor != vendor.name or ticket.service not in vendor.services:
        return None
    return ticket, vendor, conn_id


_signers: OrderedDict[str, tuple[float, tuple[Any, bytes] | None]] = OrderedDict()
_signers_lock = threading.Lock()


def forget_signers() -> None:
    """Look every connection up again at its next callback (tests that change a connection's token)."""
    with _signers_lock:
        _signers.clear()


def connection_signer(conn_id: str) -> tuple[Any, bytes] | None:
    """The connection's vendor and its ticket key; None for what is not a video vendor's connection with a
    token. Looked up at most once per KEY_TTL_SECONDS per id, absences included (a rotated token's tickets
    verify within that time; until then their tasks wait for the safety poll), and only for a well-formed id."""
    if not CONN_ID.fullmatch(conn_id):
        return None
    now = time.monotonic()
    with _signers_lock:
        cached = _signers.get(conn_id)
        if cached is not None and cached[0] > now:
            _signers.move_to_end(conn_id)
            return cached[1]
    signer = _look_up_signer(conn_id)
    with _signers_lock:
        _signers[conn_id] = (now + KEY_TTL_SECONDS, signer)
        _signers.move_to_end(conn_id)
        while len(_signers) > KEYS_KEPT:
            _signers.popitem(last=False)
    return signer


def _look_up_signer(conn_id: str) -> tuple[Any, bytes] | None:
    try:
        conn = _connection(conn_id)
        vendor = vendor_for_conn_type(conn.conn_type)
    except Exception:  # no such connection, or not a video vendor's: an unknown URL
        return None
    return (vendor, callback_key(conn.password)) if conn.password else None


def _connection(conn_id: str) -> Any:
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


def confirm(conn_id: str, service: str, task_ids: list[str]) -> dict[str, Any]:
    """The tasks' results from the vendor's own API (one batch request per ``batch_size`` ids); empty when
    the vendor cannot answer now (the next callback or the safety poll will ask again)."""
    from airflow_provider_vidgen.hooks.base import hook_from_connection

    try:
        hook = hook_from_connection(_connection(conn_id), conn_id)  # read here, in the API server, as it is now
    except Exception as err:
        log.info("could not confirm vendor callbacks: connection %r: %s", conn_id, type(err).__name__)
        return {}
    try:
        return (
            hook.retrieve_many(service, task_ids)
            if len(task_ids) > 1
            else {task_ids[0]: hook.retrieve(service, task_ids[0])}
        )
    except Exception as err:
        log.info("could not confirm vendor callbacks for %d task(s): %s", len(task_ids), type(err).__name__)
        return {}
    finally:
        hook.close()


_UNREAD = object()


def recorded_id(recorded: Any, item: int) -> str | None:
    """The vendor task id recorded for ``item``: a batch records a list in input order, a single one an id."""
    if isinstance(recorded, list):
        recorded = recorded[item] if 0 <= item < len(recorded) else None
    elif item != 0:
        recorded = None
    return recorded if isinstance(recorded, str) else None


# (dag_id, run_id, task_id, map_index, trigger_id): one deferral of one task instance
TiKey = tuple[str, str, str, int, int]


def waiting_trigger(ti: Any) -> VideoTaskTrigger | None:
    """The provider's trigger a task instance waits on, read from its stored kwargs (None: another trigger)."""
    stored = ti.trigger
    if stored is None or stored.classpath != VideoTaskTrigger.classpath():
        return None
    try:
        return VideoTaskTrigger.from_kwargs(stored.kwargs)
    except (TypeError, ValueError):  # a trigger of another version of the provider
        return None


class Waiting:
    """The deferred task instances of the ticket's DAG run that wait on one vendor task."""

    def __init__(self, session: Any, ticket: Ticket, task_id: str) -> None:
        self.session, self.ticket, self.task_id = session, ticket, task_id
        self.tis: list[Any] = []

    def owner_submitted_it(self) -> bool:
        """Whether the ticket's submission recorded exactly this vendor task id."""
        t = self.ticket
        return recorded_id(self._recorded(t.dag_id, t.run_id, t.task_id, t.map_index), t.item) == self.task_id

    def _recorded(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> Any:
        """What a task instance recorded as its vendor task id(s) (XCom ``vendor_task_id``), if anything."""
        from airflow.models.xcom import XComModel
        from sqlalchemy import select

        row = self.session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.map_index == map_index,
                XComModel.key == xcom.VENDOR_TASK_ID,
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None

    def still_submitting(self) -> bool:
        """Whether the ticket's own task instance is running (submitting), not yet deferred."""
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        t = self.ticket
        state = self.session.scalar(
            select(TI.state).where(
                TI.dag_id == t.dag_id, TI.run_id == t.run_id, TI.task_id == t.task_id, TI.map_index == t.map_index
            )
        )
        return state == TaskInstanceState.RUNNING

    def note_early_claim(self) -> None:
        """A claim made before the task deferred: kept under its item (so a task holds at most one per item),
        bound to the id only once the task records it."""
        from airflow.models.xcom import XComModel

        t = self.ticket
        XComModel.set(
            f"{CLAIMED_PREFIX}#{t.item}",  # one per item of the task, however many callbacks come
            self.task_id,
            dag_id=t.dag_id,
            task_id=t.task_id,
            run_id=t.run_id,
            map_index=t.map_index,
            session=self.session,
        )

    def find(self, lock: bool = False) -> list[Any]:
        """The submitter's own task instance if it waits on the task, else any in the run that does (a sensor)."""
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        t = self.ticket
        query = select(TI).where(TI.dag_id == t.dag_id, TI.run_id == t.run_id, TI.state == TaskInstanceState.DEFERRED)
        own = query.where(TI.task_id == t.task_id, TI.map_index == t.map_index)
        for candidates in (own, query):
            found = [
                ti
                for ti in self.session.scalars(candidates.with_for_update() if lock else candidates)
                if self._waits(ti)
            ]
            if found:
                self.tis = found
                return found
        return []

    def _waits(self, ti: Any) -> bool:
        trigger = waiting_trigger(ti)
        return trigger is not None and self.task_id in trigger.task_ids

    def claim(self) -> list[tuple[TiKey, VideoTaskTrigger]]:
        """Note the claim on every waiting task instance; those whose every id is now claimed, with their
        trigger (to confirm them all at once)."""
        from airflow.models.xcom import XComModel

        complete = []
        for ti in self.find(lock=True):
            XComModel.set(
                f"{CLAIMED_PREFIX}{self.task_id}",
                True,
                dag_id=ti.dag_id,
                task_id=ti.task_id,
                run_id=ti.run_id,
                map_index=ti.map_index,
                session=self.session,
            )
            trigger = waiting_trigger(ti)
            if trigger is not None and set(trigger.task_ids) <= self._claimed(ti) | {self.task_id}:
                complete.append(((ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.trigger_id), trigger))
        return complete

    def _claimed(self, ti: Any) -> set[str]:
        """The ids claimed final for ``ti``: claims made while it waited (``True``: checked then), and claims
        made before it deferred (their item index) whose item it recorded under that very id."""
        from airflow.models.xcom import XComModel
        from sqlalchemy import select

        rows = self.session.scalars(
            select(XComModel).where(
                XComModel.dag_id == ti.dag_id,
                XComModel.run_id == ti.run_id,
                XComModel.task_id == ti.task_id,
                XComModel.map_index == ti.map_index,
                XComModel.key.startswith(CLAIMED_PREFIX),
            )
        )
        claimed: set[str] = set()
        recorded: Any = _UNREAD
        for row in rows:
            name, value = row.key.removeprefix(CLAIMED_PREFIX), XComModel.deserialize_value(row)
            if value is True:
                claimed.add(name)
            elif name.startswith("#") and name[1:].isdigit() and isinstance(value, str):
                # An early claim (its item, the id claimed): read what the task recorded once, for all of them.
                if recorded is _UNREAD:
                    recorded = self._recorded(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
                if recorded_id(recorded, int(name[1:])) == value:
                    claimed.add(value)
        return claimed

    def settle(self, key: TiKey, trigger: VideoTaskTrigger, results: dict[str, Any]) -> bool:
        """Resume the task instance if the API confirmed every id final and it still waits in the same
        deferral; otherwise drop the claims the API did not confirm."""
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.models.trigger import Trigger
        from airflow.models.xcom import XComModel
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import delete, select

        from airflow_provider_vidgen.triggers.event import CALLBACK, SUCCESS

        dag_id, run_id, task_id, map_index, trigger_id = key
        ti = self.session.scalars(
            select(TI)
            .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == map_index)
            .with_for_update()
        ).first()
        if ti is None or ti.state != TaskInstanceState.DEFERRED or ti.trigger_id != trigger_id:
            return False  # resumed meanwhile (by another callback or its trigger), cleared or failed
        unconfirmed = [i for i in trigger.task_ids if i not in results or not results[i].terminal]
        if unconfirmed:
            self.session.execute(
                delete(XComModel).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == run_id,
                    XComModel.task_id == task_id,
                    XComModel.map_index == map_index,
                    XComModel.key.in_([f"{CLAIMED_PREFIX}{i}" for i in unconfirmed]),
                )
            )
            return False
        self.session.execute(
            delete(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.map_index == map_index,
                XComModel.key.startswith(CLAIMED_PREFIX),
            )
        )  # done with: the event carries every result
        vendor = results[trigger.task_ids[0]].vendor
        message = "every task reached a final state (confirmed after the vendor's callbacks)"
        Trigger.submit_event(
            trigger_id, trigger.event(SUCCESS, results, vendor, message, via=CALLBACK), session=self.session
        )
        return True
