"""The limits a vendor publishes for one token, as data on each service row (pure).

Ace Data Cloud publishes two kinds (Docs ``en/faq/concurrency.mdx``; API_CONTRACT §1 "Rate limits"):

* **in-flight requests per token**, per category of services (5 for the video services): a request past it
  is refused with 429 ``rate_limited`` ("Concurrency limit exceeded for this token");
* **submissions per second per service** (Sora 0.5, Veo 0.5, Kling 1, Midjourney 1, Flux 5).

A row carries the figures with the source beside them. The connection's extras ``max_in_flight`` and
``submit_rates`` raise or lower them, because the vendor raises limits on request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_vidgen.core.errors import InvalidInputError


@dataclass(frozen=True)
class Limits:
    """What the vendor allows one token on a service.

    :param group: the services that share one in-flight count (the vendor's category).
    :param in_flight: requests open at once per token in the group; None where nothing is published.
    :param submit_rate: submissions per second of this service; None where nothing is published (the
        token's ``max_requests_per_second`` and the in-flight count still bound it).
    :param source: where the figures come from.
    :param family: the services that share one submit rate (a vendor's sub-endpoints of one model family);
        empty: the service alone.
    """

    group: str = "default"
    in_flight: int | None = None
    submit_rate: float | None = None
    source: str = "not published"
    family: str = ""

    def rate_key(self, service: str) -> str:
        """Who shares the service's submit pace."""
        return self.family or service


UNPUBLISHED = Limits()


@dataclass(frozen=True)
class LimitSettings:
    """A connection's changes to the published figures (its extras ``max_in_flight`` and ``submit_rates``).

    ``max_in_flight``: one number for every group, or a mapping of group or service name to a number;
    0 lifts the cap. ``submit_rates``: a mapping of service name to submissions per second; 0 lifts the
    service's own pace (the token's rate still holds).
    """

    in_flight: Mapping[str, int]
    in_flight_all: int | None
    submit_rates: Mapping[str, float]

    def in_flight_for(self, service: str, limits: Limits) -> int:
        """The cap of open requests on the service's group (0: no cap)."""
        for key in (service, limits.group):
            if key in self.in_flight:
                return self.in_flight[key]
        if self.in_flight_all is not None:
            return self.in_flight_all
        return limits.in_flight or 0

    def submit_rate_for(self, service: str, limits: Limits) -> float:
        """Submissions per second of the service (0: only the token's rate)."""
        if service in self.submit_rates:
            return self.submit_rates[service]
        return limits.submit_rate or 0.0


def limit_settings(extras: Mapping[str, Any]) -> LimitSettings:
    """Read ``max_in_flight`` and ``submit_rates`` from a connection's extras; the error names the field."""
    raw = extras.get("max_in_flight")
    in_flight: dict[str, int] = {}
    in_flight_all: int | None = None
    if isinstance(raw, Mapping):
        in_flight = {str(key): _count("extra.max_in_flight." + str(key), value) for key, value in raw.items()}
    elif raw not in (None, ""):
        in_flight_all = _count("extra.max_in_flight", raw)
    rates = extras.get("submit_rates") or {}
    if not isinstance(rates, Mapping):
        raise InvalidInputError(
            "extra.submit_rates", f"must be a mapping of service name to submissions per second, got {rates!r}"
        )
    submit_rates = {str(key): _rate("extra.submit_rates." + str(key), value) for key, value in rates.items()}
    return LimitSettings(in_flight, in_flight_all, submit_rates)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInputError(name, f"must be a whole number >= 0 (0: no cap), got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputError(name, f"must be a whole number >= 0 (0: no cap), got {value!r}") from None
    if number < 0:
        raise InvalidInputError(name, f"must be a whole number >= 0 (0: no cap), got {value!r}")
    return number


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number >= 0 or number == float("inf"):
        allowed = "a number of submissions per second >= 0 (0: no own pace)"
        raise InvalidInputError(name, f"must be {allowed}, got {value!r}")
    return number


NO_CHANGES = LimitSettings({}, None, {})  # a connection that keeps every published figure
