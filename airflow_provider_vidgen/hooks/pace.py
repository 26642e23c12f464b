"""One pace per API token, shared by every task, process and machine that uses the token.

Every request this provider sends (batch and single submissions, the sensor's pokes, the triggers' polls)
first takes a slot of its token's pace (``core.pace``). Where the slots are kept decides who shares them:

* ``redis``: a Redis the deployment already runs (the Celery broker's, by default): every worker and
  triggerer of every machine. One atomic script call per request.
* ``file``: a lock file per token on this machine (no setup at all): every process of one machine, as in
  ``airflow standalone`` or a LocalExecutor deployment.
* ``process``: this process only (each task paces itself alone: what the provider did before).

The connection extra ``shared_pace`` chooses: ``auto`` (default: the Celery broker's Redis when the
deployment has one, else ``file``), ``file``, ``process``, or a ``redis://`` URL. No secret is kept:
slots are keyed by a hash of the host and the token.

The same stores count events every process on a token must hear of at once: an exhausted balance
(``USED_UP``). A count only ever grows; a try compares it with the count it saw when it started, so a mark
stops the tries that were submitting when it was set and no later one (a clear after a top-up submits).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from airflow_provider_vidgen.core.pace import AdaptiveRate, reserve
from airflow_provider_vidgen.core.transport import HttpResponse, Outcome, parse_retry_after

log = logging.getLogger(__name__)

SLOT_TTL_SECONDS = 3600  # a token's state is dropped after an hour without requests
USED_UP = "used_up"  # the event counted when the vendor refuses a request for the token's exhausted balance


class SlotStore(Protocol):
    """Where the slots of tokens are kept."""

    kind: str

    def reserve(self, key: str, interval: float) -> float:
        """Take the key's next slot; return the seconds to wait for it."""

    def pause(self, key: str, seconds: float) -> None:
        """Nobody sends on the key for ``seconds`` (a ``Retry-After``)."""

    def count(self, key: str, event: str) -> None:
        """Count one ``event`` on the key, for every process that shares the store."""

    def counted(self, key: str, event: str) -> int:
        """How often ``event`` was counted on the key (0: never, or the key expired)."""

    def acquire(self, key: str, limit: int, ttl: float, lease: str) -> bool:
        """Hold ``lease`` on the key if fewer than ``limit`` unexpired leases are held; it expires after ``ttl``
        seconds (a process killed while holding it gives it back then)."""

    def release(self, key: str, lease: str) -> None:
        """Give ``lease`` back (nothing happens when it expired already)."""


def _live_leases(leases: dict[str, float], now: float) -> dict[str, float]:
    return {lease: expiry for lease, expiry in leases.items() if expiry > now}


class ProcessSlots:
    """Slots of this process only."""

    kind = "process"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._state: dict[str, tuple[float | None, float]] = {}
        self._events: dict[tuple[str, str], int] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float) -> float:
        with self._lock:
            tat, paused = self._state.get(key, (None, 0.0))
            tat, wait = reserve(tat, self.clock(), interval, paused)
            self._state[key] = (tat, paused)
            return wait

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            tat, paused = self._state.get(key, (None, 0.0))
            self._state[key] = (tat, max(paused, self.clock() + seconds))

    def count(self, key: str, event: str) -> None:
        with self._lock:
            self._events[key, event] = self._events.get((key, event), 0) + 1

    def counted(self, key: str, event: str) -> int:
        with self._lock:
            return self._events.get((key, event), 0)

    def acquire(self, key: str, limit: int, ttl: float, lease: str) -> bool:
        with self._lock:
            now = self.clock()
            leases = self._leases[key] = _live_leases(self._leases.get(key, {}), now)
            if len(leases) >= limit:
                return False
            leases[lease] = now + ttl
            return True

    def release(self, key: str, lease: str) -> None:
        with self._lock:
            self._leases.get(key, {}).pop(lease, None)


@contextlib.contextmanager
def file_lock(path: Path, exclusive: bool = True) -> Iterator[IO[str]]:
    """``path`` opened and held under ``flock`` (every process of this machine, and every thread)."""
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked_json(path: Path, write: bool = True) -> Iterator[dict[str, Any]]:
    """A small JSON document of every process of this machine, read (and written back) under ``flock``."""
    with file_lock(path, exclusive=write) as handle:
        handle.seek(0)
        text = handle.read()
        state = json.loads(text) if text.strip() else {}
        yield state
        if not write:
            return
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(state))
        handle.flush()


class FileSlots:
    """Slots of every process of this machine: one small JSON file per token, updated under ``flock``."""

    kind = "file"

    def __init__(self, folder: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder or Path(tempfile.gettempdir()) / "vidgen-pace"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock

    def _locked(self, key: str, write: bool = True) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return locked_json(self.folder / f"{key}.json", write)

    def reserve(self, key: str, interval: float) -> float:
        with self._locked(key) as state:
            tat, wait = reserve(state.get("tat"), self.clock(), interval, state.get("paused", 0.0))
            state["tat"] = tat
        return wait

    def pause(self, key: str, seconds: float) -> None:
        with self._locked(key) as state:
            state["paused"] = max(state.get("paused", 0.0), self.clock() + seconds)

    def count(self, key: str, event: str) -> None:
        with self._locked(key) as state:
            events = state.setdefault("events", {})
            events[event] = events.get(event, 0) + 1

    def counted(self, key: str, event: str) -> int:
        with self._locked(key, write=False) as state:  # read before every submission: never rewritten
            return int(state.get("events", {}).get(event, 0))

    def acquire(self, key: str, limit: int, ttl: float, lease: str) -> bool:
        with self._locked(key) as state:
            now = self.clock()
            leases = state["leases"] = _live_leases(state.get("leases", {}), now)
            if len(leases) >= limit:
                return False
            leases[lease] = now + ttl
            return True

    def release(self, key: str, lease: str) -> None:
        with self._locked(key) as state:
            state.get("leases", {}).pop(lease, None)


# One round trip: the slot is computed on the server, with the server's clock, so machines whose clocks
# differ still share one pace.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or now)
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or 0)
local slot = math.max(tat, now, paused)
redis.call('HSET', KEYS[1], 'tat', tostring(slot + tonumber(ARGV[1])))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return tostring(slot - now)
"""
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or 0)
redis.call('HSET', KEYS[1], 'paused', tostring(math.max(paused, now + tonumber(ARGV[1]))))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""
# Leases are a sorted set scored by their expiry on the server's clock; expired ones are dropped first.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""
_COUNT = """
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


class RedisSlots:
    """Slots of every worker and triggerer that reaches one Redis (the Celery broker's, typically)."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._reserve = self.client.register_script(_RESERVE)
        self._pause = self.client.register_script(_PAUSE)
        self._count = self.client.register_script(_COUNT)
        self._acquire = self.client.register_script(_ACQUIRE)

        self.fallback: FileSlots | None = None  # used while Redis cannot be reached

    def reserve(self, key: str, interval: float) -> float:
        try:
            return float(self._reserve(keys=[f"vidgen:pace:{key}"], args=[interval, SLOT_TTL_SECONDS]))
        except Exception as err:  # Redis down: keep pacing this machine rather than fail the request
            return self._fallback(err).reserve(key, interval)

    def pause(self, key: str, seconds: float) -> None:
        try:
            self._pause(keys=[f"vidgen:pace:{key}"], args=[seconds, SLOT_TTL_SECONDS])
        except Exception as err:
            self._fallback(err).pause(key, seconds)

    def count(self, key: str, event: str) -> None:
        try:
            self._count(keys=[f"vidgen:pace:{key}"], args=[f"event:{event}", SLOT_TTL_SECONDS])
        except Exception as err:
            self._fallback(err).count(key, event)

    def counted(self, key: str, event: str) -> int:
        try:
            return int(self.client.hget(f"vidgen:pace:{key}", f"event:{event}") or 0)
        except Exception as err:
            return self._fallback(err).counted(key, event)

    def acquire(self, key: str, limit: int, ttl: float, lease: str) -> bool:
        try:
            return bool(int(self._acquire(keys=[f"vidgen:leases:{key}"], args=[limit, ttl, lease])))
        except Exception as err:
            return self._fallback(err).acquire(key, limit, ttl, lease)

    def release(self, key: str, lease: str) -> None:
        try:
            self.client.zrem(f"vidgen:leases:{key}", lease)
        except Exception as err:
            self._fallback(err).release(key, lease)

    def _fallback(self, err: Exception) -> FileSlots:
        if self.fallback is None:
            log.warning("Redis for the shared pace is unreachable (%s); pacing per machine", type(err).__name__)
            self.fallback = FileSlots()
        return self.fallback


class TokenPace:
    """This process's share of one token's pace: a slot before every request, adapting to 429s."""

    def __init__(self, store: SlotStore, key: str, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.key, self.sleep = store, key, sleep
        self.rate = AdaptiveRate(rate)
        self.waited = 0.0  # seconds spent waiting for slots (logs, benchmarks)
        self.throttled = 0  # 429s seen by this process on the token
        # Monotonic end of the last Retry-After this process heard: requests that took their slot before it
        # came still wait it out (other processes hear of it through the store, with their next slot).
        self.held_until = 0.0
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        with self._lock:
            interval = self.rate.interval
        return self.store.reserve(self.key, interval)

    def wait(self, deadline: float | None = None) -> float:
        """Block until this process may send its next request on the token. Returns the seconds waited, or
        -1 (at once) when the slot comes after ``deadline`` (monotonic): the caller sends nothing then."""
        delay = self._reserve()
        if deadline is not None and time.monotonic() + delay >= deadline:
            return -1.0
        if delay > 0:
            self.sleep(delay)
            self.waited += delay
        return delay

    async def await_slot(self) -> float:
        """The same, without blocking the event loop (the store call runs in a thread)."""
        delay = await asyncio.to_thread(self._reserve)
        if delay > 0:
            await asyncio.sleep(delay)
            self.waited += delay
        return delay

    def observe(self, outcome: Outcome | None) -> None:
        """A 429 (ours or anyone's on the token) slows this process down; ``Retry-After`` pauses everyone."""
        if retry_after := self.heard(outcome):
            self.store.pause(self.key, retry_after)

    def heard(self, outcome: Outcome | None) -> float | None:
        """What this process learns from an answer, without asking the store (the event loop's part of
        :meth:`observe`): returns the ``Retry-After`` to share with :meth:`pause_everyone`."""
        if not isinstance(outcome, HttpResponse):
            return None
        retry_after = parse_retry_after(outcome.headers) if outcome.status >= 400 else None
        with self._lock:
            if outcome.status == 429:
                self.throttled += 1
                self.rate.throttled()
            elif outcome.status < 400:
                self.rate.passed()
            if retry_after:
                self.held_until = max(self.held_until, time.monotonic() + retry_after)
        return retry_after

    def pause_everyone(self, seconds: float) -> None:
        self.store.pause(self.key, seconds)

    def held(self) -> float:
        """Seconds left of a ``Retry-After`` this process heard (0: none)."""
        return max(self.held_until - time.monotonic(), 0.0)

    def note_used_up(self) -> None:
        """The vendor refused a request for the token's exhausted balance: every process on the token hears it."""
        self.store.count(self.key, USED_UP)

    def used_up_marks(self) -> int:
        """How often a request on the token was refused for its balance (compare with an earlier reading)."""
        return self.store.counted(self.key, USED_UP)


def pace_key(base_url: str, token: str) -> str:
    """The slots' key: the host and the token, hashed (the token itself is never kept)."""
    return hashlib.sha256(f"{base_url}\n{token}".encode()).hexdigest()[:24]


_stores: dict[str, SlotStore] = {}
_paces: dict[tuple[str, str, float], TokenPace] = {}
_registry_lock = threading.Lock()


def store_for(setting: str) -> SlotStore:
    """The slot store a connection's ``shared_pace`` extra names (see the module docstring)."""
    name = (setting or "auto").strip()
    if name == "auto":
        broker = _celery_broker()
        name = broker if broker and broker.startswith(("redis://", "rediss://")) else "file"
    with _registry_lock:
        if name not in _stores:
            _stores[name] = _new_store(name)
        return _stores[name]


def _new_store(name: str) -> SlotStore:
    if name == "process":
        return ProcessSlots()
    if name == "file":
        return FileSlots()
    if name.startswith(("redis://", "rediss://", "unix://")):
        return RedisSlots(name)
    raise ValueError(f"unknown shared_pace {name!r}")  # api_settings checked it: not reached


def _celery_broker() -> str | None:
    """The Celery broker's URL where the deployment runs Celery (the [celery] section has a default
    broker even where no executor uses it, so the executor decides)."""
    try:
        from airflow.providers.common.compat.sdk import conf

        if "celery" not in str(conf.get("core", "executor", fallback="")).lower():
            return None
        return conf.get("celery", "broker_url", fallback=None)
    except Exception:  # no Celery configuration
        return None


def pace_for(setting: str, key: str, rate: float) -> TokenPace:
    """This process's pace of a token (one per token, store and rate, shared by its hooks and pollers)."""
    store = store_for(setting)
    with _registry_lock:
        pace = _paces.get((store.kind + setting, key, rate))
        if pace is None:
            pace = _paces[(store.kind + setting, key, rate)] = TokenPace(store, key, rate)
        return pace


# How often a request waiting for a lease asks the store again (a lease given back in this process wakes
# its waiters at once; one given back by another process is seen at the next ask).
LEASE_RETRY_SECONDS = 0.05


class InFlight:
    """This process's share of one token's in-flight limit: a request holds a lease while it is open."""

    def __init__(self, store: SlotStore, key: str, limit: int, ttl: float) -> None:
        self.store, self.key, self.limit, self.ttl = store, key, limit, ttl
        self.waited = 0.0  # seconds spent waiting for leases (logs, benchmarks)
        self._given_back = threading.Condition()

    def _take(self) -> str | None:
        lease = uuid.uuid4().hex
        return lease if self.store.acquire(self.key, self.limit, self.ttl, lease) else None

    def hold(self, deadline: float | None = None) -> str | None:
        """Block until a lease is held and return it; None (at once) when ``deadline`` (monotonic) passes first."""
        start = time.monotonic()
        while (lease := self._take()) is None:
            if deadline is not None and time.monotonic() + LEASE_RETRY_SECONDS >= deadline:
                return None
            with self._given_back:
                self._given_back.wait(LEASE_RETRY_SECONDS)
        self.waited += time.monotonic() - start
        return lease

    async def ahold(self) -> str:
        """The same, without blocking the event loop (the store is asked in a thread)."""
        start = time.monotonic()
        while (lease := await asyncio.to_thread(self._take)) is None:
            await asyncio.sleep(LEASE_RETRY_SECONDS)
        self.waited += time.monotonic() - start
        return lease

    def give_back(self, lease: str) -> None:
        self.store.release(self.key, lease)
        with self._given_back:
            self._given_back.notify()


_in_flight: dict[tuple[str, str, int], InFlight] = {}


def in_flight_for(setting: str, key: str, limit: int, ttl: float) -> InFlight:
    """This process's view of a token's in-flight limit (one per store, key and limit, shared by its hooks)."""
    store = store_for(setting)
    with _registry_lock:
        found = _in_flight.get((store.kind + setting, key, limit))
        if found is None:
            found = _in_flight[(store.kind + setting, key, limit)] = InFlight(store, key, limit, ttl)
        return found
