"""Settings of the emulator: timings, limits and fault injection (pure data, no I/O)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_TOKEN = "emulator-token"


def _setting(default: Any, help: str, kind: type | None = None) -> Any:
    """A setting with the one-line description the CLI's ``--help`` prints (``kind``: the flag's type where
    the default, None, does not tell)."""
    return dataclasses.field(default=default, metadata={"help": help, "kind": kind})


RATE_FIELDS = (
    "fail_429_rate", "fail_500_rate", "fail_502_rate", "drop_rate", "ambiguous_submit_rate", "callback_loss_rate",
)  # fmt: skip


@dataclass
class EmulatorConfig:
    """Everything that can be changed at start (CLI flags, ``EmulatorServer(**kw)``) or at runtime
    (``EmulatorServer.configure(**kw)``, ``POST /_emulator/config``).

    Timings are fixed per task when it is submitted, so changing them later does not move tasks
    that already exist.
    """

    token: str = _setting(DEFAULT_TOKEN, "accepted bearer token")
    extra_tokens: tuple[str, ...] = _setting((), "more accepted tokens (each gets its own rate-limit window)")
    queued_seconds: float = _setting(1.0, "seconds a new task stays queued")
    running_seconds: float = _setting(
        3.0, "seconds it then runs before it is final ([slow] in the prompt triples both)"
    )
    rate_limit: float = _setting(0.0, "requests per second per token in a sliding 1 s window; 0 = unlimited")
    fail_429_rate: float = _setting(0.0, "share of API requests answered 429 too_many_requests")
    fail_500_rate: float = _setting(0.0, "share answered 500 with the vendor's error envelope")
    fail_502_rate: float = _setting(0.0, "share answered 502 with an HTML (non-JSON) body")
    drop_rate: float = _setting(0.0, "share whose connection is closed without an answer (nothing created)")
    ambiguous_submit_rate: float = _setting(0.0, "share of submissions that create the task, then drop the connection")
    latency: float = _setting(0.0, "seconds added before every API answer")
    submit_hold_seconds: float = _setting(
        0.0, "seconds a submission's answer is held after its task is created (widens a worker-kill window)"
    )
    unknown_404: bool = _setting(False, "Ace Data: unknown task id -> 404 not_found instead of 200 {}")
    refuse_search: bool = _setting(False, "Ace Data: a retrieve_batch by creation time answers 403 forbidden")
    max_batch_ids: int = _setting(100, "more ids in one batch poll -> 400 bad_request (HiDream: code 1002)")
    strict_fields: bool = _setting(True, "unknown request fields are a validation error (core.schema.validate_body)")
    seed: int = _setting(0, "seeds the random generator that picks faulted requests")
    public_url: str | None = _setting(None, "base of video/thumbnail URLs; default: the URL the client used")
    callback_timeout: float = _setting(10.0, "seconds for one callback / notify POST")
    callback_loss_rate: float = _setting(0.0, "share of tasks whose final callback is never sent")
    callback_duplicates: int = _setting(0, "extra copies of every callback sent (Luma retries up to 3 times)")
    callback_delay: float = _setting(0.0, "seconds every callback is sent late")
    hidream_notify_shape: str = _setting(
        "sub_task_results", "HiDream notify_url body: sub_task_results (v2 docs) or result (batch docs)"
    )
    sync_timeout: float = _setting(600.0, "blocking-mode submissions give up after this long (504 timeout)")
    retry_after: float | None = _setting(
        None, "Retry-After on 429; default: time until the rate window frees up (>= 1)", float
    )
    send_retry_after: bool = _setting(True, "send a Retry-After header with a 429 at all")
    enforce_limits: bool = _setting(
        False,
        "Ace Data: keep the vendor's published limits from the service table (core.limits): requests in flight "
        "per token and limit group (past it, 429 rate_limited) and submissions per second per service (past it, "
        "429 too_many_requests)",
    )
    submit_latency: float = _setting(
        0.0, "seconds a submission takes to answer, holding its in-flight place (what makes in-flight limits bite)"
    )
    balance_submissions: int | None = _setting(
        None,
        "Ace Data: submissions each token's balance pays for from when this is set (set it again to top up); "
        "past it, 403 used_up and nothing created. None: unlimited",
        int,
    )

    def __post_init__(self) -> None:
        self.validate()

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset((self.token, *self.extra_tokens))

    def validate(self) -> None:
        if not isinstance(self.token, str) or not self.token:
            raise ValueError("token must be a non-empty string")
        if isinstance(self.extra_tokens, str):
            self.extra_tokens = (self.extra_tokens,)
        self.extra_tokens = tuple(self.extra_tokens)
        for name in (
            "queued_seconds",
            "running_seconds",
            "rate_limit",
            "latency",
            "submit_hold_seconds",
            "submit_latency",
            "callback_delay",
        ):
            if _number(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("callback_timeout", "sync_timeout"):
            if _number(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in RATE_FIELDS:
            if not 0.0 <= _number(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        total = sum(
            getattr(self, name) for name in RATE_FIELDS if name not in ("ambiguous_submit_rate", "callback_loss_rate")
        )
        if total > 1.0:
            raise ValueError(f"fail_429_rate + fail_500_rate + fail_502_rate + drop_rate must be <= 1, got {total}")
        if isinstance(self.max_batch_ids, bool) or not isinstance(self.max_batch_ids, int) or self.max_batch_ids < 1:
            raise ValueError(f"max_batch_ids must be a positive integer, got {self.max_batch_ids!r}")
        if (
            isinstance(self.callback_duplicates, bool)
            or not isinstance(self.callback_duplicates, int)
            or self.callback_duplicates < 0
        ):
            raise ValueError(f"callback_duplicates must be an integer >= 0, got {self.callback_duplicates!r}")
        if self.hidream_notify_shape not in ("sub_task_results", "result"):
            raise ValueError(
                f"hidream_notify_shape must be sub_task_results or result, got {self.hidream_notify_shape!r}"
            )
        if not isinstance(self.enforce_limits, bool):
            raise ValueError(f"enforce_limits must be true or false, got {self.enforce_limits!r}")
        if self.retry_after is not None and _number(self.retry_after) < 0:
            raise ValueError(f"retry_after must be >= 0, got {self.retry_after!r}")
        balance = self.balance_submissions
        if balance is not None and (isinstance(balance, bool) or not isinstance(balance, int) or balance < 0):
            raise ValueError(f"balance_submissions must be None or an integer >= 0, got {balance!r}")

    def updated(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        """A validated copy with ``changes`` applied; unknown names raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown emulator setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **dict(changes))

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON-able data, without the tokens."""
        data = dataclasses.asdict(self)
        for key in ("token", "extra_tokens"):
            data.pop(key)
        return data


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
