"""A connection's settings, and what a person should do about a failed request (pure: the hooks pass in
what they read from the Airflow connection)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.core.limits import NO_CHANGES, LimitSettings, limit_settings
from airflow_provider_vidgen.core.schema import check_url
from airflow_provider_vidgen.core.vendor import ConnectionField, Vendor

DEFAULT_BATCH_SIZE = 50
DEFAULT_REQUEST_TIMEOUT = 30.0
# Submissions per second on one token at most, every service together (connection extra
# ``max_requests_per_second``; status requests have their own ``max_polls_per_second``, at most this).
# Ace Data Cloud publishes in-flight and per-service submit limits (each service row's ``limits``) and 60/s
# for polling and sync endpoints (Docs en/faq/concurrency.mdx), no token-wide rate; HiDream publishes none.
# This ceiling stays well below the 60/s.
DEFAULT_MAX_REQUESTS_PER_SECOND = 10.0

# The extras every vendor's connection takes (the connection form shows them after the vendor's own).
COMMON_CONNECTION_FIELDS = (
    ConnectionField(
        "request_timeout",
        "Request timeout (seconds)",
        "Timeout of each HTTP request to the API.",
        {"type": ["number", "null"], "minimum": 1, "default": int(DEFAULT_REQUEST_TIMEOUT)},
    ),
    ConnectionField(
        "batch_size",
        "Batch size",
        "Task ids per status request (retrieve_batch) when polling many tasks.",
        {"type": ["integer", "null"], "minimum": 1, "maximum": 100, "default": DEFAULT_BATCH_SIZE},
    ),
    ConnectionField(
        "max_requests_per_second",
        "Max requests per second",
        "Submissions on this token, every service together (each also at most its own submit rate), across "
        "tasks, processes and machines (see Shared pace). Status requests keep Max polls per second.",
        {"type": ["number", "null"], "minimum": 0.1, "default": int(DEFAULT_MAX_REQUESTS_PER_SECOND)},
    ),
    ConnectionField(
        "max_polls_per_second",
        "Max polls per second",
        "Status requests (polls, pokes, lookups) on this token stay under this pace as well, across tasks, "
        "processes and machines. Default: the pace the vendor's docs ask for (Ace Data Cloud: 1), else "
        "max_requests_per_second.",
        {"type": ["number", "null"], "minimum": 0.01},
    ),
    ConnectionField(
        "max_in_flight",
        "Max requests in flight",
        "Requests open at once on this token, across tasks, processes and machines. Default: what the vendor "
        "publishes per category of services (Ace Data Cloud: 5 for video). A number for every category, or a "
        'JSON mapping of category or service to a number, e.g. {"video": 10} after the vendor raised it; '
        "0: no cap.",
        {"type": ["integer", "object", "null"], "minimum": 0},
    ),
    ConnectionField(
        "submit_rates",
        "Submit rates",
        'Submissions per second per service, as a JSON mapping, e.g. {"sora": 1}. Default: what the vendor '
        "publishes (Ace Data Cloud: Sora and Veo 0.5, Kling 1); 0: only max_requests_per_second.",
        {"type": ["object", "null"]},
    ),
    ConnectionField(
        "shared_pace",
        "Shared pace",
        "Who shares the token's pace: auto (the Celery broker's Redis if there is one, else every process "
        "of this machine), file (this machine), process (each process alone) or a redis:// URL.",
        {"type": ["string", "null"], "default": "auto"},
    ),
)
CALLBACK_FIELD = ConnectionField(
    "callback_base_url",
    "Callback base URL",
    "The URL at which the vendor reaches this Airflow's API server (e.g. https://airflow.example.com): turns "
    "on callback completion for every generation on this connection.",
    {"type": ["string", "null"], "format": "uri"},
)
SHARED_PACE_CHOICES = ("auto", "file", "process")


@dataclass(frozen=True)
class ApiSettings:
    base_url: str
    timeout: float
    batch_size: int
    extras: Mapping[str, Any]
    scheme_assumed: bool = False  # the connection's host had no scheme, so https:// was put in front
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    shared_pace: str = "auto"  # where the token's pace is shared (hooks.pace)
    callback_base_url: str | None = None  # where vendors reach the API server's callback receiver
    max_polls_per_second: float | None = None  # status requests' own pace (None: only the token's)
    limits: LimitSettings = NO_CHANGES  # the connection's changes to published limits

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
    shared = str(extras.get("shared_pace") or "auto").strip()
    if shared not in SHARED_PACE_CHOICES and not shared.startswith(("redis://", "rediss://", "unix://")):
        raise InvalidInputError("extra.shared_pace", f"must be auto, file, process or a redis:// URL, got {shared!r}")
    callbacks = str(extras.get("callback_base_url") or "").strip() or None
    if callbacks is not None:
        check_url("extra.callback_base_url", callbacks)
    polls = _positive(extras, "max_polls_per_second", vendor.polls_per_second or rate, float)
    return ApiSettings(
        base_url.rstrip("/"), timeout, batch_size, dict(extras), scheme_assumed, rate, shared, callbacks,
        min(polls, rate), limit_settings(extras),
    )  # fmt: skip


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


TOKEN_CODES = frozenset({"invalid_token", "token_expired", "no_token", "authorization_missing", "unauthorized", "1001"})
# The balance cannot pay for the request (Ace Data Cloud: HTTP 403 used_up; not billed). "used_up" is the
# documented code (API_CONTRACT §1.3, Docs en/faq/billing.mdx); the others are other vendors' words for it.
BALANCE_CODES = frozenset(
    {"used_up", "insufficient_balance", "insufficient_credits", "no_balance", "quota_exceeded", "1003"}
)
# Codes of a 401/403 that are not about the token being wrong, each with its own next step below.
NOT_TOKEN_CODES = BALANCE_CODES | {"forbidden", "token_mismatched", "disabled"}
UNREACHED = frozenset({"connect", "timeout_before_send"})


def is_token_error(err: ApiError) -> bool:
    """The API refused the token (HTTP 401/403, or a vendor's own code for it, e.g. HiDream's 1001), not
    what the token may do (its balance, a service it may not use: see :func:`next_step`)."""
    if err.code in NOT_TOKEN_CODES:
        return False
    return err.status in (401, 403) or err.code in TOKEN_CODES


def is_balance_error(err: ApiError) -> bool:
    """The token's balance is used up: every paid request on the token is refused until a top-up."""
    return err.status == 402 or err.code in BALANCE_CODES


def next_step(err: ApiError, vendor: Vendor, conn_id: str, settings: ApiSettings) -> str:
    """What a person should do about ``err``: the one sentence every failure ends with."""
    where = f"connection {conn_id!r} (Admin -> Connections)"
    if is_balance_error(err):
        return (
            f"the balance of the token of {where} is used up (a refused request is not billed): top it up in "
            f"the {vendor.label} console, then clear this task; the cleared task reattaches to what was accepted "
            "and submits only what was not."
        )
    if err.code == "forbidden":
        return (
            f"the token of {where} may not use this service or operation: ask {vendor.label} to enable it "
            "for your account, or use a token that may."
        )
    if err.code == "token_mismatched":
        return (
            f"the token of {where} does not belong to this service or account: check which token the "
            f"connection's password holds (the {vendor.label} console lists each application's tokens)."
        )
    if err.code == "disabled":
        return (
            f"the token of {where}, or this service for it, is disabled: enable it in the {vendor.label} "
            "console, or ask the vendor why it was disabled."
        )
    if is_token_error(err):
        return f"check the API token of {where}: it is the connection's password field."
    if err.code in UNREACHED or err.code == "timeout_after_send":
        return _unreachable_step(err, where, settings)
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
        return "fix the request fields named above; the service's fields are listed in docs/operators.md."
    return f"check the {vendor.label} status page and the settings of {where}."


def _unreachable_step(err: ApiError, where: str, settings: ApiSettings) -> str:
    if settings.scheme_assumed:
        plain = settings.base_url.removeprefix("https://")
        return (
            f"the host of {where} has no scheme, so https://{plain} was assumed; "
            f"if the server speaks plain HTTP, set the host to http://{plain}."
        )
    if any(word in err.detail for word in ("SSL", "TLS", "WRONG_VERSION_NUMBER", "wrong version number")):
        return f"{settings.base_url} does not speak TLS; check the scheme of the host of {where}."
    return f"check that {settings.base_url} is reachable from this machine and is the right host of {where}."
