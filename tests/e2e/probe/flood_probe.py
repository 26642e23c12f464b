"""``make e2e-prod``, phase ``flood``: what a callback flood costs API server 1, counted inside it.

Loaded as an Airflow plugin by that API server only (``ProdStack(probe=True)`` points its
``[core] plugins_folder`` at a copy of this file); no other process has it. It counts:

- **secrets lookups**: every ``Connection.get_connection_from_secrets`` call (the receiver's and the
  confirmer's way to a connection), by connection id and by who asked (the confirmer's thread, a
  request, anything else);
- **SQL statements**: a SQLAlchemy ``before_cursor_execute`` listener on every engine, by thread name and
  by what was running: a secrets lookup (then also by its connection id), a request to
  ``/vidgen/callbacks/...`` (a root middleware tags each request in a context variable, which follows it
  into the thread pool), another request (the execution API the workers and triggerers use), the
  confirmer's thread, or something else in the background;
- the callback requests it saw, by status.

The counts are served as JSON on ``GET http://127.0.0.1:<E2E_FLOOD_PROBE_PORT>/counts`` (loopback, a
thread of its own). The probe changes nothing it counts.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow.plugins_manager import AirflowPlugin

CONFIRMER_THREAD = "vidgen-callback-confirmer"
CALLBACK_PREFIX = "/vidgen/callbacks"

_lock = threading.Lock()
_route: contextvars.ContextVar[str | None] = contextvars.ContextVar("flood_probe_route", default=None)
_lookup: contextvars.ContextVar[str | None] = contextvars.ContextVar("flood_probe_lookup", default=None)

lookups: Counter[tuple[str, str]] = Counter()  # (conn id, who) -> lookups
lookup_log: list[tuple[float, str, str]] = []  # (epoch s, conn id, who), every lookup
sql: Counter[str] = Counter()  # bucket -> statements
sql_by_thread: Counter[str] = Counter()  # thread name (numbers dropped) -> statements
sql_in_lookups: Counter[str] = Counter()  # conn id -> statements run inside its lookups
sql_in_callbacks: Counter[str] = Counter()  # "<thread> :: <first words of the statement>", outside lookups
callback_answers: Counter[int] = Counter()  # status -> callback requests answered


def _who() -> str:
    name = threading.current_thread().name
    if name == CONFIRMER_THREAD:
        return "confirmer"
    return "request" if _route.get() is not None else "other"


def _thread() -> str:
    return re.sub(r"[-_ ]?\d+(_\d+)?$", "", threading.current_thread().name) or "?"


# ------------------------------------------------------------------------------ secrets lookups


def _wrap_lookups() -> None:
    from airflow.models.connection import Connection

    original = Connection.__dict__["get_connection_from_secrets"].__func__

    def counted(cls: Any, conn_id: str, *args: Any, **kwargs: Any) -> Any:
        who = _who()
        with _lock:
            lookups[(conn_id, who)] += 1
            lookup_log.append((time.time(), conn_id, who))
        token = _lookup.set(conn_id)
        try:
            return original(cls, conn_id, *args, **kwargs)
        finally:
            _lookup.reset(token)

    Connection.get_connection_from_secrets = classmethod(counted)  # type: ignore[method-assign,assignment]


# ------------------------------------------------------------------------------ SQL statements


def _listen_sql() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "before_cursor_execute")
    def statement(conn: Any, cursor: Any, text: str, params: Any, context: Any, executemany: bool) -> None:
        name = threading.current_thread().name
        looking_up, route = _lookup.get(), _route.get()
        if looking_up is not None:
            bucket = "lookup"
        elif route == "callback":
            bucket = "callback_request"
        elif name == CONFIRMER_THREAD:
            bucket = "confirmer"
        elif route is not None:
            bucket = "other_request"
        else:
            bucket = "background"
        with _lock:
            sql[bucket] += 1
            sql_by_thread[_thread()] += 1
            if looking_up is not None:
                sql_in_lookups[looking_up] += 1
            elif route == "callback":
                sql_in_callbacks[f"{_thread()} :: {' '.join(str(text).split()[:4])}"] += 1


# ------------------------------------------------------------------------------ requests


class RouteTag:
    """Root ASGI middleware: tags each request (a callback or not) for the SQL listener, counts callback
    answers by status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        callback = str(scope.get("path", "")).startswith(CALLBACK_PREFIX)
        token = _route.set("callback" if callback else "request")

        async def watch(message: Any) -> None:
            if callback and message.get("type") == "http.response.start":
                with _lock:
                    callback_answers[int(message["status"])] += 1
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            _route.reset(token)


# ------------------------------------------------------------------------------ the counts, served


def snapshot() -> dict[str, Any]:
    with _lock:
        return {
            "at": time.time(),
            "lookups": [[conn_id, who, n] for (conn_id, who), n in lookups.items()],
            "lookup_log": [list(entry) for entry in lookup_log],
            "sql": dict(sql),
            "sql_by_thread": dict(sql_by_thread),
            "sql_in_lookups": dict(sql_in_lookups),
            "sql_in_callbacks": dict(sql_in_callbacks),
            "callback_answers": {str(k): v for k, v in callback_answers.items()},
        }


class _Counts(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(snapshot()).encode()
        self.send_response(200 if self.path == "/counts" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


_started = False


def _start() -> None:
    global _started
    if _started:
        return
    _started = True
    _wrap_lookups()
    _listen_sql()
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["E2E_FLOOD_PROBE_PORT"])), _Counts)
    threading.Thread(target=server.serve_forever, name="flood-probe-http", daemon=True).start()


_start()


class FloodProbePlugin(AirflowPlugin):
    name = "e2e-flood-probe"
    fastapi_root_middlewares = [{"middleware": RouteTag, "name": "e2e-flood-probe"}]
