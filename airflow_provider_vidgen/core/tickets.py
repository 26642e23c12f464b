"""Callback tickets: who may post a vendor callback is decided by the URL alone (pure, no I/O).

The vendors sign nothing, so each submission's callback URL carries a ticket: the submission it belongs
to (vendor, service, DAG run, task, map index, item), the connection it was made for, when it expires, and
an HMAC over all of it. The key is derived from the
connection's API token, which both the worker that submits and the API server that receives can read,
so no other secret needs sharing and nothing is stored. A ticket is checked in constant time; anything
that fails the check is answered the same way as an unknown URL. A valid ticket is still only a hint:
what the video is, is asked from the vendor's own API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, fields

VERSION = 2  # 2: bound to its connection, with an expiry (a version-1 ticket no longer verifies)
PATH = "/vidgen/callbacks"  # under the API server: the plugin's prefix and the receiver's route


@dataclass(frozen=True)
class Ticket:
    """The submission a callback URL belongs to."""

    vendor: str
    service: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    item: int  # the item's index in its task (0 for a single generation)
    conn_id: str = ""  # the connection whose key signed it: a ticket is good for that URL only
    expires: int = 0  # epoch seconds; 0: never (only in tests)

    def valid_for(self, conn_id: str, now: float) -> bool:
        return self.conn_id == conn_id and (self.expires == 0 or now < self.expires)


def callback_key(token: str) -> bytes:
    """The HMAC key of a connection's tickets, derived from its API token (the token itself is not used)."""
    return hmac.new(token.encode(), b"airflow-provider-vidgen callback ticket v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_ticket(key: bytes, ticket: Ticket) -> str:
    body = _b64(json.dumps({"v": VERSION, **asdict(ticket)}, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def read_ticket(key: bytes, text: str) -> Ticket | None:
    """The ticket, if ``text`` was made with ``key``; None for anything else (never an exception)."""
    body, _, signature = text.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return _decoded(body)


def peek_ticket(text: str) -> Ticket | None:
    """What ``text`` says it is, signature unchecked: only to turn away, without looking a key up, what
    cannot be a ticket for its URL. Never to trust (None for anything that does not decode)."""
    body, _, signature = text.partition(".")
    return _decoded(body) if signature else None


def _decoded(body: str) -> Ticket | None:
    try:
        data = json.loads(_unb64(body))
    except (ValueError, RecursionError, binascii.Error):
        return None
    if not isinstance(data, dict) or data.pop("v", None) != VERSION:
        return None
    try:
        ticket = Ticket(**data)
    except TypeError:
        return None
    return ticket if _well_typed(ticket) else None


_FIELD_TYPES = {"str": str, "int": int}


def _well_typed(ticket: Ticket) -> bool:
    """Every field of the type it is declared with (an unsigned ticket's JSON may hold anything)."""
    return all(type(getattr(ticket, f.name)) is _FIELD_TYPES[str(f.type)] for f in fields(ticket))


TICKET_LIFETIME_FLOOR = 7 * 24 * 3600  # a sensor may collect a submit-only task's videos days later


def ticket_expiry(timeout: float, now: float | None = None) -> int:
    """When a submission's ticket expires: after the task's own timeout, and never within a week."""
    import time

    return int((time.time() if now is None else now) + max(float(timeout), TICKET_LIFETIME_FLOOR))


def callback_url(base_url: str, conn_id: str, key: bytes, ticket: Ticket) -> str:
    """The URL a vendor posts this submission's callback to."""
    return f"{base_url.rstrip('/')}{PATH}/{conn_id}/{make_ticket(key, ticket)}"
