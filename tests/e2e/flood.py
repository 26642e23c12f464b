"""``make e2e-prod``, phase ``flood``: a process of its own that floods one API server's callback receiver.

It posts ``--invalid`` callback URLs that no ticket check may look anything up for, of several kinds (see
``KINDS``), and ``--crafted`` tickets of the right shape (they read as tickets for their URL, unsigned:
``core.tickets.peek_ticket`` accepts them, ``read_ticket`` does not) naming made-up connection ids, each
id its own, which the receiver may look up within its lookup budget. The requests are shuffled together
and paced evenly over ``--seconds`` (never faster; slower if the server cannot keep up) on
``--concurrency`` keep-alive connections, written on raw sockets so that odd paths go out exactly as
built. Prints one JSON line: when it started and ended (epoch s), how many it sent, the answers by kind
and status, and answer times.

    python tests/e2e/flood.py --url http://127.0.0.1:8080 --real-conn acedata_callbacks_1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the provider, from the checkout

from airflow_provider_vidgen.core.tickets import PATH, Ticket, make_ticket, peek_ticket, read_ticket

FLOOD_PREFIX = "flood-"  # every made-up connection id starts with this ...
CRAFTED_PREFIX = "flood-crafted-"  # ... the crafted tickets' ids with this
BODY = json.dumps({"task_id": "00000000-0000-0000-0000-000000000000", "data": [{"state": "succeeded"}]}).encode()

# The kinds of invalid URL: none may cost a secrets lookup or a DB query.
KINDS = (
    "garbage",  # the real connection, a ticket of random printable junk
    "random_b64",  # the real connection, random base64 shaped like a real ticket (same lengths, one dot)
    "bad_signature",  # the real connection, a ticket that reads right for it but signed with another key
    "made_up_garbage",  # made-up connection ids, junk tickets
    "made_up_random_b64",  # made-up connection ids, random base64 of a ticket's length
    "made_up_mismatch",  # made-up ids, well-formed tickets not for their URL: another id, expired, unknown service
    "oversized",  # a connection id past Airflow's 250 characters, tickets of 4 and 12 KB
    "odd_path",  # extra segments, dot segments, %00 and %2F, non-ASCII, an empty ticket, a query
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _ticket(rng: random.Random, **changes: Any) -> Ticket:
    fields: dict[str, Any] = {
        "vendor": "acedata",
        "service": "hailuo",
        "dag_id": "vidgen_fanout",
        "run_id": f"manual__{rng.randrange(10**9)}",
        "task_id": "generate",
        "map_index": rng.randrange(1000),
        "item": 0,
        "conn_id": "",
        "expires": int(time.time()) + 7 * 24 * 3600,
    }
    fields.update(changes)
    return Ticket(**fields)


def _junk(rng: random.Random, size: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _shaped_random(rng: random.Random, like: str) -> str:
    """Random base64 with the lengths of ``like`` (a real ticket): its body, a dot, its signature."""
    body, _, signature = like.partition(".")
    return f"{_b64(rng.randbytes(len(body) * 3 // 4 + 1))[: len(body)]}.{_b64(rng.randbytes(32))[: len(signature)]}"


def invalid_path(kind: str, number: int, rng: random.Random, real_conn: str) -> str:
    base = f"{PATH}/"
    made_up = f"{FLOOD_PREFIX}{kind.replace('_', '-')}-{number}"
    real_shape = make_ticket(os.urandom(32), _ticket(rng, conn_id=real_conn))
    if kind == "garbage":
        return f"{base}{real_conn}/{_junk(rng, rng.randrange(1, 120))}"
    if kind == "random_b64":
        return f"{base}{real_conn}/{_shaped_random(rng, real_shape)}"
    if kind == "bad_signature":
        return f"{base}{real_conn}/{real_shape}"
    if kind == "made_up_garbage":
        return f"{base}{made_up}/{_junk(rng, rng.randrange(1, 120))}"
    if kind == "made_up_random_b64":
        return f"{base}{made_up}/{_shaped_random(rng, real_shape)}"
    if kind == "made_up_mismatch":
        wrong = [
            {"conn_id": real_conn},  # a ticket for another URL
            {"conn_id": made_up, "expires": int(time.time()) - 60},  # expired
            {"conn_id": made_up, "service": "no-such-service"},
            {"conn_id": made_up, "vendor": "no-such-vendor"},
        ][number % 4]
        ticket = _ticket(rng, **{"conn_id": made_up, **wrong})
        return f"{base}{made_up}/{make_ticket(os.urandom(32), ticket)}"
    if kind == "oversized":
        return [
            f"{base}{FLOOD_PREFIX}{'x' * 300}/{real_shape}",
            f"{base}{made_up}/{_junk(rng, 4096)}",
            f"{base}{real_conn}/{_junk(rng, 12 * 1024)}",
        ][number % 3]
    if kind == "odd_path":
        return [
            f"{base}{made_up}/{real_shape}/extra/segments",
            f"{base}{made_up}/../../{real_conn}/{real_shape}",
            f"{base}{made_up}%00/{real_shape}",
            f"{base}{made_up}%2F{real_conn}/{real_shape}",
            f"{base}{made_up}-%C3%A9%E2%98%83/{real_shape}",
            f"{base}{made_up}/",
            f"{base}{made_up}/{real_shape}?ticket={real_shape}",
            f"{base}{made_up}//{real_shape}",
        ][number % 8]
    raise ValueError(kind)


def crafted_path(number: int, rng: random.Random) -> str:
    conn_id = f"{CRAFTED_PREFIX}{number}"
    text = make_ticket(os.urandom(32), _ticket(rng, conn_id=conn_id))
    assert peek_ticket(text) is not None and read_ticket(b"another key", text) is None
    return f"{PATH}/{conn_id}/{text}"


def plan(invalid: int, crafted: int, real_conn: str, seed: int) -> list[tuple[str, str]]:
    """(kind, path) of every request, shuffled."""
    rng = random.Random(seed)
    requests = [(KINDS[n % len(KINDS)], invalid_path(KINDS[n % len(KINDS)], n, rng, real_conn)) for n in range(invalid)]
    requests += [("crafted", crafted_path(n, rng)) for n in range(crafted)]
    rng.shuffle(requests)
    return requests


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> int:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nConnection: keep-alive\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + BODY)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, close = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        elif name.strip().lower() == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    if close:
        raise _Closed(status)
    return status


class _Closed(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


async def flood(url: str, requests: list[tuple[str, str]], seconds: float, concurrency: int) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
    for index, (kind, path) in enumerate(requests):
        queue.put_nowait((index, kind, path))
    answers: dict[str, Counter[str]] = defaultdict(Counter)
    times: list[float] = []
    started_wall, started = time.time(), time.monotonic()
    step = seconds / max(len(requests), 1)

    async def worker() -> None:
        reader = writer = None
        while True:
            try:
                index, kind, path = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            wait = started + index * step - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                status = str(await _one(reader, writer, f"{host}:{port}", path))
            except _Closed as closed:
                status = str(closed.status)
                writer.close()
                reader = writer = None
            except (OSError, ConnectionError, ValueError, IndexError, asyncio.IncompleteReadError) as err:
                status = f"error:{type(err).__name__}"
                if writer is not None:
                    writer.close()
                reader = writer = None
            times.append(time.monotonic() - sent)
            answers[kind][status] += 1
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    ended_wall = time.time()
    times.sort()
    return {
        "started": started_wall,
        "ended": ended_wall,
        "seconds": round(ended_wall - started_wall, 2),
        "sent": sum(sum(c.values()) for c in answers.values()),
        "answers": {kind: dict(counts) for kind, counts in sorted(answers.items())},
        "answer_p50_ms": round(1000 * times[len(times) // 2], 1) if times else None,
        "answer_p99_ms": round(1000 * times[int(len(times) * 0.99)], 1) if times else None,
        "answer_max_ms": round(1000 * times[-1], 1) if times else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the API server's base URL")
    parser.add_argument("--real-conn", required=True, help="the connection id real callbacks use")
    parser.add_argument("--invalid", type=int, default=10_000, help="invalid URLs (default 10,000)")
    parser.add_argument("--crafted", type=int, default=500, help="well-formed tickets for made-up ids (500)")
    parser.add_argument("--seconds", type=float, default=45.0, help="spread evenly over this long (45)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections at once (16)")
    parser.add_argument("--seed", type=int, default=29)
    args = parser.parse_args(argv)
    requests = plan(args.invalid, args.crafted, args.real_conn, args.seed)
    result = asyncio.run(flood(args.url, requests, args.seconds, args.concurrency))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
