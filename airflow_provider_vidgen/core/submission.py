"""A submission validated once: the typed object every layer below the operator is handed.

``prepare`` checks the body against the service's row and builds the request; nothing after it checks
again. Parse-time checks (``check_literal_fields``) validate what a DAG file already fixes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import request_prompt
from airflow_provider_vidgen.core.schema import ServiceSpec, validate_body
from airflow_provider_vidgen.core.transport import ApiRequest
from airflow_provider_vidgen.core.vendor import Vendor


@dataclass(frozen=True)
class Submission:
    """One generation to submit: its vendor, its service's row, the validated body and the request."""

    vendor: Vendor
    spec: ServiceSpec
    body: Mapping[str, Any]  # as validated (None values dropped); the identity of the generation
    request: ApiRequest  # what goes on the wire (the vendor may add fields, e.g. Ace Data's "async")

    @property
    def service(self) -> str:
        return self.spec.name

    @property
    def prompt(self) -> str | None:
        return request_prompt(self.body)

    @property
    def sent_fields(self) -> Mapping[str, Any]:
        """The fields the vendor stores with the task (what a lost submission is looked up by)."""
        return self.request.json if isinstance(self.request.json, Mapping) else {}

    def fingerprint(self, conn_id: str) -> str:
        return fingerprint(conn_id, self.vendor.name, self.spec.name, self.body)

    @property
    def calls_back(self) -> bool:
        """Whether the request already names a callback URL (the DAG's own, or ours)."""
        field = self.vendor.callback_field
        return bool(field and isinstance(self.request.json, Mapping) and self.request.json.get(field))

    def with_callback(self, url: str) -> Submission:
        """The same submission, asking the vendor to call ``url`` back. The URL goes into the request only:
        the body (the generation's identity, its fingerprint) stays as it was."""
        field = self.vendor.callback_field
        if not field or not isinstance(self.request.json, Mapping):
            return self
        return replace(self, request=replace(self.request, json={**self.request.json, field: url}))


def prepare(vendor: Vendor, service: str, body: Mapping[str, Any], *, allow_unknown: bool = False) -> Submission:
    """Validate ``body`` and build its request. Raises InvalidInputError (naming the field) before any I/O."""
    spec = vendor.service(service)
    clean = validate_body(spec, body, allow_unknown=allow_unknown)
    return Submission(vendor, spec, clean, vendor.submit_request(spec, clean))


def fingerprint(conn_id: str, vendor: str, service: str, body: Mapping[str, Any]) -> str:
    """Identity of a generation's inputs: a retry with the same fingerprint reattaches."""
    blob = json.dumps([conn_id, vendor, service, body], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def is_literal(value: Any) -> bool:
    """Whether ``value`` is final as written in the DAG file: no Jinja template, no XCom reference."""
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, list | tuple):
        return all(is_literal(item) for item in value)
    if isinstance(value, Mapping):
        return all(is_literal(key) and is_literal(item) for key, item in value.items())
    return False  # XComArg, MappedArgument and other values resolved when the task runs


def check_seconds(name: str, value: Any, *, literal_only: bool = False) -> None:
    """A duration parameter is a positive number of seconds (raises InvalidInputError naming it); with
    ``literal_only`` (parse time) a templated or upstream value waits for the run."""
    if literal_only and not is_literal(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidInputError(name, f"must be a positive number of seconds, got {value!r}")


def check_literal_fields(vendor: Vendor, service: Any, body: Any, *, allow_unknown: bool = False) -> None:
    """Validate what a DAG file already fixes (at parse time); templated fields wait for the run."""
    if not is_literal(service) or not isinstance(body, Mapping):
        return
    spec = vendor.service(service)
    deferred = {name for name, value in body.items() if not is_literal(value)}
    validate_body(spec, body, allow_unknown=allow_unknown, deferred=deferred)
