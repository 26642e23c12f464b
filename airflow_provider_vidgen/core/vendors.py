"""The vendor table and the request flows every hook, trigger and the emulator's tests share.

A vendor is a row of data and pure functions (see ``core.acedata`` and ``core.hidream``); the
flows here compose them with the retry policy, so the sync and async paths are one code path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from airflow_provider_vidgen.core import acedata, hidream
from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.schema import ServiceSpec, check_url, validate_body
from airflow_provider_vidgen.core.transport import ApiRequest, Flow, RetryPolicy, call

DEFAULT_BATCH_SIZE = 50
DEFAULT_REQUEST_TIMEOUT = 30.0
# Submissions a batch operator sends per second at most (connection extra ``max_requests_per_second``).
# Neither vendor documents a limit; this stays well below what a 429 starts at in practice.
DEFAULT_MAX_REQUESTS_PER_SECOND = 10.0


@runtime_checkable
class VendorApi(Protocol):
    """What a vendor's core module (``core.acedata``, ``core.hidream``) provides: pure functions only,
    so the sync hook, the async hook, the trigger and the emulator's tests share them."""

    def get_service(self, name: str) -> ServiceSpec: ...
    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]: ...
    def submit_request(self, spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest: ...
    def retrieve_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest: ...
    def batch_request(self, spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest: ...
    def probe_request(self) -> ApiRequest: ...
    def decode(self, outcome: Any, request: ApiRequest, *, allow_not_found: bool = False) -> Any: ...
    def parse_submit(self, body: Any) -> str: ...
    def parse_batch(self, spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]: ...
    def interpret_record(self, spec: ServiceSpec, task_id: str, record: Any) -> TaskResult: ...


@runtime_checkable
class SearchableVendorApi(VendorApi, Protocol):
    """A vendor whose API lists tasks by creation time, so a submission whose id was lost is found again."""

    def search_request(
        self, spec: ServiceSpec, created_min: int, created_max: int, *, offset: int = 0, limit: int = 100
    ) -> ApiRequest: ...
    def parse_search(self, body: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Vendor:
    """Everything the hooks, operators, sensor, provider info and emulator know about one vendor."""

    name: str
    label: str  # how people call it, in logs and errors
    conn_type: str  # the Airflow connection type
    default_conn_id: str
    conn_id_param: str  # the operators' and hook's connection-id parameter, Airflow style
    default_host: str
    services: Mapping[str, ServiceSpec]
    module: VendorApi  # the vendor's core module
    hook_class_name: str  # imported by name where needed, so the hooks never import each other

    def service(self, name: str) -> ServiceSpec:
        return self.module.get_service(name)

    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]:
        return self.module.auth_headers(token, extras)

    @property
    def finds_submissions(self) -> bool:
        """Whether the API can list tasks by creation time, so a lost task id can be found again."""
        return isinstance(self.module, SearchableVendorApi)


ACEDATA = Vendor(
    name="acedata",
    label=acedata.LABEL,
    conn_type="acedata",
    default_conn_id="acedata_default",
    conn_id_param="acedata_conn_id",
    default_host=acedata.DEFAULT_HOST,
    services=acedata.SERVICES,
    module=acedata,  # a module satisfies the Protocol structurally
    hook_class_name="airflow_provider_vidgen.hooks.acedata.AceDataHook",
)
HIDREAM = Vendor(
    name="hidream",
    label=hidream.LABEL,
    conn_type="hidream",
    default_conn_id="hidream_default",
    conn_id_param="hidream_conn_id",
    default_host=hidream.DEFAULT_HOST,
    services=hidream.SERVICES,
    module=hidream,
    hook_class_name="airflow_provider_vidgen.hooks.hidream.HiDreamHook",
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
    scheme_assumed: bool = False  # the connection's host had no scheme, so https:// was put in front
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND

    def __repr__(self) -> str:  # never print anything that could hold a secret
        return f"ApiSettings(base_url={self.base_url!r}, timeout={self.timeout}, batch_size={self.batch_size})"


def api_settings(vendor: Vendor, host: str | None, extras: Mapping[str, Any]) -> ApiSettings:
    base_url = (host or "").strip() or vendor.default_host
    scheme_assumed = "://" not in base_url
    if scheme_assumed:
        base_url = "https://" + base_url
    check_url("host", base_url)
    timeout = _positive(extras, "request_timeout", DEFAULT_REQUEST_TIMEOUT, float)
    batch_size = int(_positive(extras, "batch_size", DEFAULT_BATCH_SIZE, int))
    rate = _positive(extras, "max_requests_per_second", DEFAULT_MAX_REQUESTS_PER_SECOND, float)
    return ApiSettings(base_url.rstrip("/"), timeout, batch_size, dict(extras), scheme_assumed, rate)


TOKEN_CODES = frozenset({"invalid_token", "token_expired", "no_token", "unauthorized", "1001"})
CREDIT_CODES = frozenset({"insufficient_balance", "insufficient_credits", "no_balance", "quota_exceeded", "1003"})
UNREACHED = frozenset({"connect", "timeout_before_send"})


def is_token_error(err: ApiError) -> bool:
    """The API refused the token (HTTP 401/403, or a vendor's own code for it, e.g. HiDream's 1001)."""
    return err.status in (401, 403) or err.code in TOKEN_CODES


def next_step(err: ApiError, vendor: Vendor, conn_id: str, settings: ApiSettings) -> str:
    """What a person should do about ``err``: the one sentence every failure ends with."""
    where = f"connection {conn_id!r} (Admin -> Connections)"
    if is_token_error(err):
        return f"check the API token of {where}: it is the connection's password field."
    if err.status == 402 or err.code in CREDIT_CODES:
        return f"top up the credits of this token in the {vendor.label} console, then clear the task."
    if err.code in UNREACHED or err.code == "timeout_after_send":
        tls = any(word in err.detail for word in ("SSL", "TLS", "WRONG_VERSION_NUMBER", "wrong version number"))
        if settings.scheme_assumed:
            plain = settings.base_url.removeprefix("https://")
            return (
                f"the host of {where} has no scheme, so https://{plain} was assumed; "
                f"if the server speaks plain HTTP, set the host to http://{plain}."
            )
        if tls:
            return f"{settings.base_url} does not speak TLS; check the scheme of the host of {where}."
        return f"check that {settings.base_url} is reachable from this machine and is the right host of {where}."
    if err.rate_limited:
        return (
            "the API is rate limiting this token: poll less often (poll_interval), run fewer tasks at once "
            "(max_active_tis_per_dag or a pool), or ask the vendor for a higher limit."
        )
    if err.status is not None and err.status >= 500:
        return "the vendor API is failing; try again later (a retry reattaches to submitted generations)."
    if err.code == "not_found" or err.status == 404:
        return "check the vendor task id and the service it was submitted to."
    if err.status in (400, 422) or err.code in ("bad_request", "invalid_request", "1002"):
        return "fix the request fields named above; the service's fields are listed in the README."
    return f"check the {vendor.label} status page and the settings of {where}."


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


def check_literal_fields(vendor: Vendor, service: Any, body: Any, *, allow_unknown: bool = False) -> None:
    """Validate what a DAG file already fixes (at parse time); templated fields wait for the run."""
    if not is_literal(service) or not isinstance(body, Mapping):
        return
    spec = vendor.service(service)
    deferred = {name for name, value in body.items() if not is_literal(value)}
    validate_body(spec, body, allow_unknown=allow_unknown, deferred=deferred)


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
    """Every id's result: one batch request, or one retrieve per id for a service without a batch
    endpoint (``spec.batch_retrieve``). Either way one flow, so the hooks and the poller drive it alike."""
    if not spec.batch_retrieve:
        return each_flow(vendor, spec, task_ids, retry)
    request = vendor.module.batch_request(spec, task_ids)
    return call(
        request,
        lambda outcome: vendor.module.parse_batch(spec, task_ids, vendor.module.decode(outcome, request)),
        retry,
    )


def each_flow(
    vendor: Vendor, spec: ServiceSpec, task_ids: Sequence[str], retry: RetryPolicy
) -> Flow[dict[str, TaskResult]]:
    """The ids retrieved in turn, each with its own retries; one that fails after them fails the whole
    flow, as a failed batch request would (the caller sees the same outcomes as with a batch)."""
    results: dict[str, TaskResult] = {}
    for task_id in dict.fromkeys(task_ids):
        results[task_id] = yield from retrieve_flow(vendor, spec, task_id, retry)
    return results


@dataclass(frozen=True)
class SubmissionSearch:
    """Tasks created in a time window whose stored ``request`` holds every field that was sent."""

    matches: tuple[str, ...]
    unreadable: int  # records in the window without a readable request: they may be the one

    @property
    def found(self) -> str | None:
        return self.matches[0] if len(self.matches) == 1 and not self.unreadable else None

    @property
    def none_sent(self) -> bool:
        return not self.matches and not self.unreadable


@dataclass(frozen=True)
class SearchPage:
    records: list[dict[str, Any]]
    total: int | None  # every task in the window, as the API counts them (None: not said)


def search_page_flow(
    vendor: Vendor, spec: ServiceSpec, window: tuple[float, float], offset: int, retry: RetryPolicy
) -> Flow[SearchPage]:
    """One page of the tasks created in ``window``, newest first: to find a submission whose id was lost."""
    request = vendor.module.search_request(spec, math.floor(window[0]), math.ceil(window[1]), offset=offset)

    def interpret(outcome: Any) -> SearchPage:
        body = vendor.module.decode(outcome, request)
        total = body.get("count", body.get("total")) if isinstance(body, Mapping) else None
        return SearchPage(vendor.module.parse_search(body), total if isinstance(total, int) else None)

    return call(request, interpret, retry)


def match_submissions(records: Iterable[Mapping[str, Any]], sent: Mapping[str, Any], unread: int) -> SubmissionSearch:
    """The records whose stored ``request`` holds every field of ``sent``; ``unread`` records (past the
    pages read) and records without a readable request could be it too."""
    matches, unreadable = [], unread
    for record in records:
        stored = record.get("request")
        task_id = record.get("id") or record.get("task_id")
        if not isinstance(stored, Mapping) or not isinstance(task_id, str):
            unreadable += 1
        elif all(stored.get(key) == value for key, value in sent.items()):
            matches.append(task_id)
    return SubmissionSearch(tuple(dict.fromkeys(matches)), unreadable)


def probe_flow(vendor: Vendor) -> Flow[Any]:
    request = vendor.module.probe_request()
    return call(request, lambda outcome: vendor.module.decode(outcome, request, allow_not_found=True), RetryPolicy(1))
