"""Claims of vendor callbacks, recorded by the receiver and read by the confirmer (``plugins.confirmer``).

A claim says "this vendor task is final", posted with a valid ticket. The receiver records it and answers at
once; it never touches the metadata DB or the vendor's API. The claims live in the store the connection
already shares its pace through (``hooks.pace``, connection extra ``shared_pace``), so every API server that
shares that store sees them and any one of them can confirm them:

* ``file``: one small JSON file per claim, written with tmp + rename, in a folder per task instance next to
  the pace's lock files (every API server of one machine, as in ``airflow standalone``);
* ``redis``: one hash per task instance in the pace's Redis (the Celery broker's by default: every API server
  of the deployment); the Celery broker rather than the metadata DB because a burst of claims must not take
  connections from the DB pool the API server also serves the tasks' execution API from;
* ``process``: this API server process only.

Each deployment's claims are kept apart (a hash of its metadata DB's address in the folder or key names):
a confirmer only sees claims its own DB can match, and drops what nothing in it waits on.

Bounded by construction: at most ``MAX_CLAIMS_PER_TICKET`` claims per ticket (different vendor task ids
named with one ticket: a duplicate replaces its own record) and ``MAX_CLAIMS_PER_TASK_INSTANCE`` per task
instance, whatever the callbacks say. One lease per store (``lead``) lets one confirmer work at a time; it
expires, so a killed API server's role is taken over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_vidgen.hooks.pace import (
    FileSlots,
    ProcessSlots,
    RedisSlots,
    SlotStore,
    file_lock,
    locked_json,
    store_for,
)

log = logging.getLogger(__name__)

MAX_CLAIMS_PER_TICKET = 3  # a vendor calls back once per item; more ids under one ticket are not its own
MAX_CLAIMS_PER_TASK_INSTANCE = 2 * 1000 + 8  # a batch task holds at most 1,000 items (core.batch)
CLAIM_TTL_SECONDS = 3600  # the least a claim is kept; it is kept while its ticket is good (at least a week)


@dataclass(frozen=True)
class Claim:
    """A verified callback's claim that ``vendor_task_id`` is final, with its ticket's submission."""

    conn_id: str
    vendor: str
    service: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    item: int
    vendor_task_id: str
    received: float  # epoch seconds
    attempts: int = 0  # confirmations that failed so far
    not_before: float = 0.0  # epoch seconds: retried no earlier (backoff after a failed confirmation)
    expires: float = 0.0  # its ticket's expiry (the task's own timeout, at least a week); 0: none

    @property
    def kept_until(self) -> float:
        """While its ticket is good (a batch whose items finish hours apart keeps its first claims), and for
        at least ``CLAIM_TTL_SECONDS``."""
        return max(self.expires, self.received + CLAIM_TTL_SECONDS)

    @property
    def owner(self) -> tuple[str, str, str, int]:
        """The task instance that submitted the vendor task (the ticket's)."""
        return self.dag_id, self.run_id, self.task_id, self.map_index

    @property
    def group(self) -> str:
        """The claims' folder or hash: one per task instance."""
        text = json.dumps([self.conn_id, *self.owner], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def name(self) -> str:
        """One record per ticket item and vendor task id: a duplicate callback replaces its own record."""
        return f"{self.item}-{hashlib.sha256(self.vendor_task_id.encode()).hexdigest()[:16]}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Claim | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None

    def backed_off(self, now: float) -> Claim:
        """The claim after a failed confirmation: retried after 1, 2, 4 ... up to 60 seconds."""
        return replace(self, attempts=self.attempts + 1, not_before=now + min(2.0**self.attempts, 60.0))


class ClaimStore(Protocol):
    kind: str

    def record(self, claim: Claim) -> bool:
        """Keep the claim (False: a bound is reached, nothing kept)."""

    def pending(self) -> list[Claim]:
        """Every claim kept."""

    def update(self, claim: Claim) -> None:
        """Rewrite a kept claim (its backoff); nothing happens when it is gone."""

    def remove(self, claims: Iterable[Claim]) -> None:
        """Drop the claims (done with, or of no use)."""

    def lead(self, holder: str, ttl: float) -> bool:
        """Take or renew the store's confirmer lease for ``ttl`` seconds; False: another holder has it."""

    def step_down(self, holder: str) -> None:
        """Give the lease back if ``holder`` has it."""


def _item_count(names: Iterable[str], item: int) -> int:
    prefix = f"{item}-"
    return sum(1 for name in names if name.startswith(prefix))


def within_bounds(names: list[str], claim: Claim) -> bool:
    """Whether the claim may be kept beside the task instance's claims already kept (``names``)."""
    if claim.name in names:
        return True  # a duplicate replaces its own record
    return len(names) < MAX_CLAIMS_PER_TASK_INSTANCE and _item_count(names, claim.item) < MAX_CLAIMS_PER_TICKET


class ProcessClaims:
    """Claims of this process only."""

    kind = "process"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._groups: dict[str, dict[str, Claim]] = {}
        self._lease: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def record(self, claim: Claim) -> bool:
        with self._lock:
            group = self._groups.setdefault(claim.group, {})
            if not within_bounds(list(group), claim):
                return False
            group[claim.name] = claim
            return True

    def pending(self) -> list[Claim]:
        with self._lock:
            return [claim for group in self._groups.values() for claim in group.values()]

    def update(self, claim: Claim) -> None:
        with self._lock:
            group = self._groups.get(claim.group, {})
            if claim.name in group:
                group[claim.name] = claim

    def remove(self, claims: Iterable[Claim]) -> None:
        with self._lock:
            for claim in claims:
                group = self._groups.get(claim.group, {})
                group.pop(claim.name, None)
                if not group:
                    self._groups.pop(claim.group, None)

    def lead(self, holder: str, ttl: float) -> bool:
        with self._lock:
            now = self.clock()
            if self._lease is not None and self._lease[0] != holder and self._lease[1] > now:
                return False
            self._lease = (holder, now + ttl)
            return True

    def step_down(self, holder: str) -> None:
        with self._lock:
            if self._lease is not None and self._lease[0] == holder:
                self._lease = None


class FileClaims:
    """Claims of every process of this machine: ``<folder>/<task instance>/<item>-<id>.json``."""

    kind = "file"

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock

    def record(self, claim: Claim) -> bool:
        group = self.folder / claim.group
        # Counted and written under one lock of the machine (one of 256, by the group's first hex digits), or
        # callbacks arriving together in several API server processes each see room and all write.
        with file_lock(self.folder / f".record-{claim.group[:2]}.lock"):
            for _ in range(3):  # the confirmer removes a folder it emptied: make it again
                group.mkdir(exist_ok=True)
                try:
                    names = [name.removesuffix(".json") for name in os.listdir(group) if name.endswith(".json")]
                except FileNotFoundError:
                    continue
                if not within_bounds(names, claim):
                    return False
                try:
                    self._write(group / f"{claim.name}.json", claim)
                    return True
                except FileNotFoundError:
                    continue
        return False

    def _write(self, path: Path, claim: Claim) -> None:
        """Atomically: a reader sees the whole record or none (written aside, then renamed into place)."""
        tmp = self.folder / f".{uuid.uuid4().hex}.tmp"
        tmp.write_text(claim.to_json())
        try:
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def pending(self) -> list[Claim]:
        claims = []
        for group in os.scandir(self.folder):
            if not group.is_dir():
                continue
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(group.path):
                    if not entry.name.endswith(".json"):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        claim = Claim.from_json(Path(entry.path).read_bytes())
                        if claim is not None:
                            claims.append(claim)
        return claims

    def update(self, claim: Claim) -> None:
        path = self.folder / claim.group / f"{claim.name}.json"
        if path.exists():
            with contextlib.suppress(FileNotFoundError):
                self._write(path, claim)

    def remove(self, claims: Iterable[Claim]) -> None:
        groups = set()
        for claim in claims:
            (self.folder / claim.group / f"{claim.name}.json").unlink(missing_ok=True)
            groups.add(claim.group)
        for group in groups:
            with contextlib.suppress(OSError):  # not empty: a claim came meanwhile
                (self.folder / group).rmdir()

    def _lease_file(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return locked_json(self.folder / ".confirmer.lease")

    def lead(self, holder: str, ttl: float) -> bool:
        with self._lease_file() as lease:
            now = self.clock()
            if lease.get("holder") not in (None, holder) and float(lease.get("expires", 0)) > now:
                return False
            lease.update(holder=holder, expires=now + ttl)
            return True

    def step_down(self, holder: str) -> None:
        with self._lease_file() as lease:
            if lease.get("holder") == holder:
                lease.clear()


# Keep a claim if its record exists or both bounds allow one more: one round trip, atomic.
_RECORD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
  if tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or 0) >= tonumber(ARGV[5]) then return 0 end
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[6])
for i = 1, 2 do  -- the hash lives as long as its longest-lived claim
  if redis.call('TTL', KEYS[i]) < tonumber(ARGV[7]) then redis.call('EXPIRE', KEYS[i], ARGV[7]) end
end
return 1
"""
_REMOVE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[2], -1) end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[3])
end
return 1
"""
_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""
_LEAD = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_STEP_DOWN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisClaims:
    """Claims of every API server that reaches one Redis: a hash per task instance, and a set of them."""

    kind = "redis"

    def __init__(self, client: Any, prefix: str = "vidgen:claims") -> None:
        self.client, self.prefix = client, prefix
        self._record = client.register_script(_RECORD)
        self._remove = client.register_script(_REMOVE)
        self._update = client.register_script(_UPDATE)  # only a claim still kept: never one just removed
        self._lead = client.register_script(_LEAD)
        self._step_down = client.register_script(_STEP_DOWN)

    def _keys(self, group: str) -> list[str]:
        return [f"{self.prefix}:{group}", f"{self.prefix}:{group}:items", self.prefix]

    def record(self, claim: Claim) -> bool:
        args = [claim.name, claim.to_json(), claim.item, MAX_CLAIMS_PER_TASK_INSTANCE, MAX_CLAIMS_PER_TICKET]
        # Redis forgets a hash no confirmer looks at any more (the confirmer drops claims exactly, on time).
        keep = max(CLAIM_TTL_SECONDS, math.ceil(claim.kept_until - time.time()))
        return bool(int(self._record(keys=self._keys(claim.group), args=[*args, claim.group, keep])))

    def pending(self) -> list[Claim]:
        claims = []
        for group in self.client.smembers(self.prefix):
            group = group.decode() if isinstance(group, bytes) else group
            records = self.client.hvals(f"{self.prefix}:{group}")
            if not records:
                self.client.srem(self.prefix, group)  # expired
            claims.extend(claim for text in records if (claim := Claim.from_json(text)) is not None)
        return claims

    def update(self, claim: Claim) -> None:
        self._update(keys=self._keys(claim.group)[:1], args=[claim.name, claim.to_json()])

    def remove(self, claims: Iterable[Claim]) -> None:
        for claim in claims:
            self._remove(keys=self._keys(claim.group), args=[claim.name, claim.item, claim.group])

    def lead(self, holder: str, ttl: float) -> bool:
        return bool(int(self._lead(keys=[f"{self.prefix}:confirmer"], args=[holder, int(ttl * 1000)])))

    def step_down(self, holder: str) -> None:
        self._step_down(keys=[f"{self.prefix}:confirmer"], args=[holder])


_claim_stores: dict[int, tuple[SlotStore, ClaimStore]] = {}
_claim_stores_lock = threading.Lock()


def claims_for(shared_pace: str) -> ClaimStore:
    """The claims store beside a connection's pace store (one per pace store in this process)."""
    slots = store_for(shared_pace)
    with _claim_stores_lock:
        found = _claim_stores.get(id(slots))
        if found is None or found[0] is not slots:
            found = _claim_stores[id(slots)] = (slots, _claims_beside(slots))
        return found[1]


def deployment_key() -> str:
    """This Airflow deployment's claims are kept apart from another's on the same machine or Redis (a hash
    of its metadata DB's address): a confirmer only ever sees claims its own DB can match."""
    try:
        from airflow.configuration import conf
        from sqlalchemy.engine import make_url

        # Without its password: the hash stands in folder and key names anyone on the machine may list.
        address = make_url(conf.get("database", "sql_alchemy_conn")).render_as_string(hide_password=True)
    except Exception:  # no Airflow configuration (unit use of the stores)
        address = ""
    return hashlib.sha256(address.encode()).hexdigest()[:12]


def _claims_beside(slots: SlotStore) -> ClaimStore:
    if isinstance(slots, RedisSlots):
        return RedisClaims(slots.client, f"vidgen:claims:{deployment_key()}")
    if isinstance(slots, FileSlots):
        return FileClaims(slots.folder / f"callbacks-{deployment_key()}")
    if isinstance(slots, ProcessSlots):
        return ProcessClaims()
    raise TypeError(f"no claims store beside a {type(slots).__name__}")


def known_claim_stores() -> list[ClaimStore]:
    """Every claims store this process recorded into or looked at (the confirmer watches them all)."""
    with _claim_stores_lock:
        return [claims for _, claims in _claim_stores.values()]


def forget_claim_stores() -> None:
    """Tests: the next ``claims_for`` builds its store again (after a test replaced the pace store)."""
    with _claim_stores_lock:
        _claim_stores.clear()
