"""The submission ledger: what every try of one task instance knows about each of its generations.

One record per item, kept in Airflow's ``task_state_store`` (shared by every try of the task instance,
Airflow >= 3.3), versioned and typed:

    (absent) --intend--> intended --accept--> accepted(task id)
                               \\--------------> ambiguous(message)    (may have created a paid task)

An item is *intended* from the moment its request may leave the process, not before, so a try that
failed earlier leaves nothing behind. "Could not read" (a record of an unknown version or shape) is
kept apart from "absent": an unreadable record is never taken as "nothing was sent".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

VERSION = 1
PREFIX = "vidgen_batch"  # item keys are PREFIX/<fingerprint>/<occurrence>
MARKER = PREFIX  # set once a try starts submitting: before that there is nothing to read
LEGACY_SINGLE_KEY = "vidgen_submission"  # the single operator's record before version 1

RecordState = Literal["intended", "accepted", "ambiguous"]


class StateStore(Protocol):
    """The part of Airflow's task_state_store the ledger uses."""

    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class ItemRecord:
    state: RecordState
    service: str
    task_id: str | None = None  # accepted
    intent_at: float | None = None  # intended: when the request could first leave (epoch seconds)
    message: str | None = None  # ambiguous: what is known, for the user
    reported_at: int | None = None  # ambiguous: the task's clear count when it was reported

    def to_json(self) -> dict[str, Any]:
        data = {"v": VERSION, "state": self.state, "service": self.service}
        for name in ("task_id", "intent_at", "message", "reported_at"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        return data


@dataclass(frozen=True)
class Unreadable:
    """A record that is there but cannot be read: never taken as "nothing was sent"."""

    raw: Any


def parse_record(value: Any) -> ItemRecord | Unreadable | None:
    """A stored value as a record; None when absent (or explicitly emptied), Unreadable when unknown."""
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping):
        return Unreadable(value)
    if value.get("v") == VERSION:
        try:
            return ItemRecord(
                state=value["state"],
                service=str(value["service"]),
                task_id=value.get("task_id"),
                intent_at=value.get("intent_at"),
                message=value.get("message"),
                reported_at=value.get("reported_at"),
            )
        except (KeyError, TypeError):
            return Unreadable(value)
    return _legacy(value)


def _legacy(value: Mapping[str, Any]) -> ItemRecord | Unreadable | None:
    """Records written before version 1 (a try of an older release may have left them)."""
    service = str(value.get("service") or "")
    if value.get("task_id"):
        return ItemRecord("accepted", service, task_id=str(value["task_id"]))
    if value.get("ambiguous"):
        return ItemRecord("ambiguous", service, message=str(value["ambiguous"]), reported_at=value.get("reported_at"))
    if value.get("intent_at"):
        reported = value.get("reported_at")
        return ItemRecord("intended", service, intent_at=float(value["intent_at"]), reported_at=reported)
    return Unreadable(value)


def item_keys(fingerprints: Sequence[str]) -> list[str]:
    """A key per item, from its inputs: equal items get their own key by occurrence, so a retry finds
    each item's record even after the list was reordered or extended."""
    seen: dict[str, int] = {}
    keys = []
    for identity in fingerprints:
        seen[identity] = seen.get(identity, 0) + 1
        keys.append(f"{PREFIX}/{identity}/{seen[identity]}")
    return keys


class SubmissionLedger:
    """The records of one task instance's items (by index), over its task_state_store."""

    def __init__(
        self, store: StateStore, fingerprints: Sequence[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.fingerprints = list(fingerprints)
        self.keys = item_keys(self.fingerprints)
        self.clock = clock

    def started(self) -> bool:
        return bool(self.store.get(MARKER))

    def begin(self) -> None:
        if not self.started():
            self.store.set(MARKER, {"v": VERSION, "items": len(self.keys)})

    def read_all(self) -> dict[int, ItemRecord | Unreadable]:
        """Every item's record that is there (absent ones left out); nothing before a try started."""
        if not self.started():
            return self._legacy_single()
        records = {index: parse_record(self.store.get(key)) for index, key in enumerate(self.keys)}
        return {index: record for index, record in records.items() if record is not None}

    def _legacy_single(self) -> dict[int, ItemRecord | Unreadable]:
        if len(self.keys) != 1:
            return {}
        old = self.store.get(LEGACY_SINGLE_KEY)
        if not isinstance(old, Mapping) or old.get("fingerprint") != self.fingerprints[0]:
            return {}
        record = parse_record({key: value for key, value in old.items() if key != "fingerprint"})
        return {0: record} if record is not None else {}

    def intend(self, index: int, service: str) -> None:
        self._write(index, ItemRecord("intended", service, intent_at=self.clock()))

    def accept(self, index: int, service: str, task_id: str) -> None:
        self._write(index, ItemRecord("accepted", service, task_id=task_id))

    def hold_ambiguous(self, index: int, service: str, message: str, reported_at: int | None) -> None:
        """The item may have created a paid task: never resent automatically; reported at ``reported_at``."""
        self._write(index, ItemRecord("ambiguous", service, message=message, reported_at=reported_at))

    def report_intended(self, index: int, service: str, reported_at: int | None) -> None:
        """An intended item whose fate is unknown (an ambiguous answer, a lookup that was not conclusive),
        marked as reported to the user: the next try looks it up again, and a clear submits it again."""
        record = parse_record(self.store.get(self.keys[index]))
        intent_at = record.intent_at if isinstance(record, ItemRecord) and record.intent_at else self.clock()
        self._write(index, ItemRecord("intended", service, intent_at=intent_at, reported_at=reported_at))

    def forget(self, index: int) -> None:
        """Nothing was created (or the record is replaced by a new submission): no record."""
        self.store.delete(self.keys[index])

    def _write(self, index: int, record: ItemRecord) -> None:
        self.store.set(self.keys[index], record.to_json())


def acknowledged(record: ItemRecord | Unreadable, clears: int | None) -> bool:
    """Whether the task was cleared after this record's doubt was reported: the user's "submit it again"."""
    at = record.reported_at if isinstance(record, ItemRecord) else None
    return isinstance(at, int) and clears is not None and clears > at
