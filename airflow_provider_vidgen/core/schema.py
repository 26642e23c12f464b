"""Declarative request schemas: a service is data (fields and cross-field rules), not a class.

``validate_body`` runs before any request is sent, so bad input costs nothing and the error names
the field and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.limits import UNPUBLISHED, Limits

FieldType = Literal["str", "url", "media", "bool", "int", "number", "list", "object", "any"]

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_BASE64_HINT = re.compile(r"^(data:|[A-Za-z0-9+/]{200,}={0,2}$)")


def check_url(field_name: str, value: Any) -> str:
    """An http(s) URL; base64 and data: URIs are refused with a message that says so."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(field_name, f"must be an http(s) URL, got {_show(value)}")
    if _BASE64_HINT.match(value):
        raise InvalidInputError(field_name, "must be an http(s) URL; base64 or data: URIs are not accepted here")
    if not _URL.match(value):
        raise InvalidInputError(field_name, f"must be an http(s) URL, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType = "str"
    required: bool = False
    choices: Collection[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    item_type: FieldType | None = None
    non_empty: bool = False  # a given string must not be blank even when the field is optional

    def check(self, value: Any) -> None:
        name = self.name
        if self.type == "url":
            check_url(name, value)
        elif self.type == "media":  # an http(s) URL or base64 data (HiDream accepts both)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(name, f"must be an http(s) URL or base64 data, got {_show(value)}")
            if not (_URL.match(value) or _BASE64_HINT.match(value)):
                raise InvalidInputError(name, f"must be an http(s) URL or base64 data, got {_show(value)}")
        elif self.type == "str":
            if not isinstance(value, str):
                raise InvalidInputError(name, f"must be a string, got {_show(value)}")
            if (self.required or self.non_empty) and not value.strip():
                raise InvalidInputError(name, "must not be empty")
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise InvalidInputError(name, f"must be true or false, got {_show(value)}")
        elif self.type in ("int", "number"):
            allowed_types = int if self.type == "int" else int | float
            if isinstance(value, bool) or not isinstance(value, allowed_types) or not math.isfinite(value):
                kind = "an integer" if self.type == "int" else "a number"
                raise InvalidInputError(name, f"must be {kind}, got {_show(value)}")
        elif self.type == "list":
            if not isinstance(value, list | tuple):
                raise InvalidInputError(name, f"must be a list, got {_show(value)}")
            self._check_count(value)
            if self.item_type:
                for index, item in enumerate(value):
                    FieldSpec(f"{name}[{index}]", self.item_type).check(item)
        elif self.type == "object" and not isinstance(value, Mapping):
            raise InvalidInputError(name, f"must be an object, got {_show(value)}")
        elif self.type == "any" and isinstance(value, list | tuple):
            self._check_count(value)  # a field that takes a list or a single value (Flux keyframes)

        if self.choices is not None and value not in self.choices:
            raise InvalidInputError(name, f"must be one of {_allowed(self.choices)}; got {_show(value)}")
        if self.minimum is not None and value < self.minimum:
            raise InvalidInputError(name, f"must be between {self.minimum} and {self.maximum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidInputError(name, f"must be between {self.minimum} and {self.maximum}, got {value}")
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            raise InvalidInputError(name, f"must be at most {self.max_length} characters, got {len(value)}")

    def _check_count(self, value: list[Any] | tuple[Any, ...]) -> None:
        if self.min_items is not None and len(value) < self.min_items:
            raise InvalidInputError(self.name, f"needs at least {self.min_items} item(s), got {len(value)}")
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidInputError(self.name, f"takes at most {self.max_items} item(s), got {len(value)}")


class _Given(Collection[Any]):
    """A condition value matching any non-empty value: ``when={"end_image_url": GIVEN}``."""

    def __contains__(self, value: object) -> bool:
        return value not in (None, "", [], ())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "GIVEN"


GIVEN = _Given()

Condition = Mapping[str, Collection[Any]]  # field -> values for which a rule applies; {} = always


def applies(when: Condition, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> bool:
    """Whether a rule's condition holds for ``body`` (a field missing from it takes its default)."""
    return all(body.get(key, defaults.get(key)) in values for key, values in when.items())


def when_text(when: Condition) -> str:
    """A rule's condition in words, for its error message (" when model is ...")."""
    if not when:
        return ""
    matched = [
        f"{key} {'/'.join(map(str, sorted(values, key=str)))}" for key, values in when.items() if values is not GIVEN
    ]
    given = [key for key, values in when.items() if values is GIVEN]
    return (" for " + " and ".join(matched) if matched else "") + (" with " + " and ".join(given) if given else "")


def _allowed(choices: Collection[Any]) -> str:
    if isinstance(choices, range) and len(choices) > 6:
        return f"{choices.start}..{choices[-1]} in steps of {choices.step}"
    return ", ".join(repr(c) for c in choices)


@dataclass(frozen=True)
class Requires:
    """Every field in ``fields`` is required when ``when`` matches."""

    fields: tuple[str, ...]
    when: Condition = field(default_factory=dict)

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        if not applies(self.when, body, defaults):
            return
        for name in self.fields:
            if body.get(name) in (None, "", [], ()):
                raise InvalidInputError(name, f"is required{when_text(self.when)}")


@dataclass(frozen=True)
class OneOf:
    """At least one (or, with ``exactly``, exactly one) of ``fields`` is given when ``when`` matches."""

    fields: tuple[str, ...]
    when: Condition = field(default_factory=dict)
    exactly: bool = False

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        if not applies(self.when, body, defaults):
            return
        given = [name for name in self.fields if body.get(name) not in (None, "", [], ())]
        names = " or ".join(self.fields)
        if not given:
            raise InvalidInputError(names, f"one of them is required{when_text(self.when)}")
        if self.exactly and len(given) > 1:
            raise InvalidInputError(names, f"give exactly one of them{when_text(self.when)}, got {given}")


@dataclass(frozen=True)
class Forbids:
    """``fields`` are not allowed when ``when`` matches (e.g. an image for a text-to-video model)."""

    fields: tuple[str, ...]
    when: Condition

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        if not applies(self.when, body, defaults):
            return
        for name in self.fields:
            if body.get(name) not in (None, "", [], ()):
                raise InvalidInputError(name, f"is not allowed{when_text(self.when)}")


@dataclass(frozen=True)
class Allows:
    """When ``when`` matches, ``field`` (if given) must be one of ``choices`` and within the range.

    The per-model narrowing of a field the table already allows in general, e.g. Kling's
    ``duration`` 5 or 10 except on the v3 family.
    """

    field: str
    when: Condition
    choices: Collection[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def check(self, body: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        value = body.get(self.field)
        if value is None or not applies(self.when, body, defaults):
            return
        if self.choices is not None and value not in self.choices:
            raise InvalidInputError(
                self.field, f"must be one of {_allowed(self.choices)}{when_text(self.when)}; got {_show(value)}"
            )
        low = self.minimum if self.minimum is not None else -math.inf
        high = self.maximum if self.maximum is not None else math.inf
        if isinstance(value, int | float) and not low <= value <= high:
            raise InvalidInputError(
                self.field, f"must be between {self.minimum} and {self.maximum}{when_text(self.when)}, got {value}"
            )


Rule = Requires | OneOf | Forbids | Allows


class Shape(str, Enum):
    """Where a service's answers keep the result (its task record's ``response``, or a flat poll body)."""

    DATA_LIST = "data_list"  # response.data is a list of items (most Ace Data services)
    DATA_OBJECT = "data_object"  # response.data is one object (Dreamina)
    FLAT = "flat"  # the response is the item itself (Luma, Kling, Wan, Midjourney, ...)
    TASK = "task"  # the record is {"task": {...}} (MiniMax)
    SUBTASKS = "subtasks"  # {task_id, sub_task_results: [...]} with integer statuses (HiDream)


@dataclass(frozen=True)
class RecordWords:
    """The state words a service writes into its task records, and the key that holds them.

    Parsing reads the declared key and words first and falls back to every word any service uses; the
    emulator writes exactly these. ``state_key=None``: the service writes no state word at all (Flux,
    Midjourney: success, error and the video say it all).
    """

    success: str = "succeeded"
    running: str = "processing"
    failure: str = "failed"
    state_key: str | None = "state"


DEFAULT_WORDS = RecordWords()


@dataclass(frozen=True)
class ServiceSpec:
    """One generation endpoint of a vendor: everything that differs between services is data here,
    read by validation, request building, answer reading and the emulator alike."""

    vendor: str
    name: str
    submit_path: str
    poll_path: str
    fields: tuple[FieldSpec, ...]
    rules: tuple[Rule, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    shape: Shape = Shape.DATA_LIST
    words: RecordWords = DEFAULT_WORDS
    # Whether the API has a batch-results endpoint for the service. Without one (HiDream v3), a batch
    # poll is one retrieve per id, in the same flow (core.flows.batch_flow): no endpoint is invented.
    batch_retrieve: bool = True
    # Whether the API cancels a task that has not started yet (MiniMax's ``delete`` action on a queued
    # task). Everywhere else a generation, once submitted, runs to its end.
    cancellable: bool = False
    # What the vendor allows one token on this service (in-flight requests, submissions per second).
    limits: Limits = UNPUBLISHED

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def validate_body(
    spec: ServiceSpec, body: Mapping[str, Any], *, allow_unknown: bool = False, deferred: Collection[str] = ()
) -> dict[str, Any]:
    """Check ``body`` against the service schema; return it as a plain dict with None values dropped.

    ``deferred`` names fields whose values are not known yet (templates, rendered when the task runs):
    they count as given, and their own checks and every rule that reads them wait for the full check.
    """
    if not isinstance(body, Mapping):
        raise InvalidInputError("body", f"must be a mapping of request fields, got {_show(body)}")
    clean = {key: value for key, value in body.items() if value is not None}
    known = {f.name: f for f in spec.fields}
    unknown = sorted(set(clean) - set(known))
    if unknown and not allow_unknown:
        raise InvalidInputError(
            unknown[0], f"is not a field of {spec.vendor} {spec.name!r}; allowed: {', '.join(sorted(known))}"
        )
    for spec_field in spec.fields:
        if spec_field.name in deferred:
            continue
        if spec_field.name in clean:
            spec_field.check(clean[spec_field.name])
        elif spec_field.required and spec_field.name not in spec.defaults:
            raise InvalidInputError(spec_field.name, "is required")
    for rule in spec.rules:
        if not deferred or deferred_free(rule, deferred):
            rule.check(clean, spec.defaults)
    return clean


def deferred_free(rule: Any, deferred: Collection[str]) -> bool:
    """Whether ``rule`` reads none of the ``deferred`` fields (any rule: its fields and its conditions)."""
    names = {*getattr(rule, "fields", ()), *getattr(rule, "when", {}), getattr(rule, "field", None)}
    return not names & set(deferred)
