"""Callback tickets: who may post a vendor callback is decided by the URL alone (pure, no I/O).

The vendors sign nothing, so each submission's callback URL carries a ticket: the submission it belongs
to (vendor, service, DAG run, task, map index, item) and an HMAC over it. The key is derived from the
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
from dataclasses import asdict, dataclass

VERSION = 1
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
    try:
        data = json.loads(_unb64(body))
        if data.pop("v") != VERSION:
            return None
        return Ticket(**data)
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None


def callback_url(base_url: str, conn_id: str, key: bytes, ticket: Ticket) -> str:
    """The URL a vendor posts this submission's callback to."""
    return f"{base_url.rstrip('/')}{PATH}/{conn_id}/{make_ticket(key, ticket)}"
