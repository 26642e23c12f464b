"""The vendor table and the request flows every hook, trigger and the emulator's tests share.

A vendor is a row of data and pure functions (see ``core.acedata`` and ``core.hidream``); the
flows here compose them with the retry policy, so the sync and async paths are one code path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from airflow_provider_vidgen.core import acedata, hidream
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.schema import ServiceSpec, check_url, validate_body
from airflow_provider_vidgen.core.transport import ApiRequest, Flow, RetryPolicy, call

DEFAULT_BATCH_SIZE = 50
DEFAULT_REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Vendor:
    name: str
    label: str
    conn_type: str
    default_conn_id: str
    default_host: str
    services: Mapping[str, ServiceSpec]
    module: ModuleType  # the vendor's pure functions: auth_headers, *_request, decode, parse_*

    def service(self, name: str) -> ServiceSpec:
        return self.module.get_service(name)

    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]:
        return self.module.auth_headers(token, extras)


ACEDATA = Vendor(
    "acedata", acedata.LABEL, "acedata", "acedata_default", acedata.DEFAULT_HOST, acedata.SERVICES, acedata
)
HIDREAM = Vendor(
    "hidream", hidream.LABEL, "hidream", "hidream_default", hidream.DEFAULT_HOST, hidream.SERVICES, hidream
)
VENDORS: dict[str, Vendor] = {vendor.conn_type: vendor for vendor in (ACEDATA, HIDREAM)}


def vendor_for_conn_type(conn_type: str | None) -> Vendor:
    try:
        return VENDORS[conn_type or ""]
    except KeyError:
        raise InvalidInputError(
            "conn_type", f"connection type {conn_type!r} is not a video vendor; allowed: {', '.join(VENDORS)}"
        ) from None


# --------------------------------------------------------------------------------------------
# Connection settings (pure: the hooks pass in what they read from the Airflow connection)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSettings:
    base_url: str
    timeout: float
    batch_size: int
    extras: Mapping[str, Any]

    def __repr__(self) -> str:  # never print anything that could hold a secret
        return f"ApiSettings(base_url={self.base_url!r}, timeout={self.timeout}, batch_size={self.batch_size})"


def api_settings(vendor: Vendor, host: str | None, extras: Mapping[str, Any]) -> ApiSettings:
    base_url = (host or "").strip() or vendor.default_host
    if "://" not in base_url:
        base_url = "https://" + base_url
    check_url("host", base_url)
    timeout = _positive(extras, "request_timeout", DEFAULT_REQUEST_TIMEOUT, float)
    batch_size = int(_positive(extras, "batch_size", DEFAULT_BATCH_SIZE, int))
    return ApiSettings(base_url.rstrip("/"), timeout, batch_size, dict(extras))


def _positive(extras: Mapping[str, Any], key: str, default: float, kind: type) -> float:
    value = extras.get(key)
    if value in (None, ""):
        return default
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"extra.{key}", f"must be a positive number, got {value!r}") from None
    if number <= 0:
        raise InvalidInputError(f"extra.{key}", f"must be a positive number, got {value!r}")
    return number


# --------------------------------------------------------------------------------------------
# Validation and flows
# --------------------------------------------------------------------------------------------


def prepare_submission(
    vendor: Vendor, service: str, body: Mapping[str, Any], *, allow_unknown: bool = False
) -> tuple[ServiceSpec, ApiRequest]:
    """Validate ``body`` and build the submission request. Raises InvalidInputError before any I/O."""
    spec = vendor.service(service)
    clean = validate_body(spec, body, allow_unknown=allow_unknown)
    return spec, vendor.module.submit_request(spec, clean)


def check_task_ids(task_ids: Any) -> list[str]:
    if isinstance(task_ids, str):
        task_ids = [task_ids]
    if not isinstance(task_ids, list | tuple) or not task_ids:
        raise InvalidInputError("task_ids", f"must be a non-empty list of task id strings, got {task_ids!r}")
    for task_id in task_ids:
        if not isinstance(task_id, str) or not task_id.strip():
            raise InvalidInputError("task_ids", f"every task id must be a non-empty string, got {task_id!r}")
    return list(dict.fromkeys(task_ids))  # keep order, drop duplicates


def chunked(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def submit_flow(vendor: Vendor, request: ApiRequest, retry: RetryPolicy) -> Flow[str]:
    return call(request, lambda outcome: vendor.module.parse_submit(vendor.module.decode(outcome, request)), retry)


def retrieve_flow(vendor: Vendor, spec: ServiceSpec, task_id: str, retry: RetryPolicy) -> Flow[TaskResult]:
    request = vendor.module.retrieve_request(spec, task_id)

    def interpret(outcome: Any) -> TaskResult:
        body = vendor.module.decode(outcome, request, allow_not_found=True)
        return vendor.module.interpret_record(spec, task_id, body)

    return call(request, interpret, retry)


def batch_flow(
    vendor: Vendor, spec: ServiceSpec, task_ids: Sequence[str], retry: RetryPolicy
) -> Flow[dict[str, TaskResult]]:
    request = vendor.module.batch_request(spec, task_ids)
    return call(
        request,
        lambda outcome: vendor.module.parse_batch(spec, task_ids, vendor.module.decode(outcome, request)),
        retry,
    )


def probe_flow(vendor: Vendor) -> Flow[Any]:
    request = vendor.module.probe_request()
    return call(request, lambda outcome: vendor.module.decode(outcome, request, allow_not_found=True), RetryPolicy(1))
