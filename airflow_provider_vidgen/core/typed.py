"""Values read from outside (XCom, which DAG authors and XCom editors write; a vendor's answer) are checked
for their type before use: a reader gets what its dataclass declares, or a ValueError naming the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{key}: expected {'a non-empty ' if required else 'a '}string, got {_shown(value)}")
    return value


def required_text(data: Mapping[str, Any], key: str) -> str:
    value = text(data, key, required=True)
    assert value is not None
    return value


def choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = required_text(data, key)
    if value not in allowed:
        raise ValueError(f"{key}: expected one of {', '.join(allowed)}, got {value!r:.40}")
    return value


def integer(data: Mapping[str, Any], key: str, *, minimum: int | None = None) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{key}: expected an integer{bound}, got {_shown(value)}")
    return value


def number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not finite(value):
        raise ValueError(f"{key}: expected a finite number, got {_shown(value)}")
    return float(value)


def finite(value: int | float) -> bool:
    """Whether ``value`` is a finite float (an int too large for a float is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{key}: expected a mapping, got {_shown(value)}")
    return value


def web_url(value: Any) -> str | None:
    """``value`` when it is an ``http(s)`` URL with a host, else None: the one check for a media URL that comes
    from outside, before a page shows it or a download fetches it (no other scheme gets through)."""
    if not isinstance(value, str) or "\\" in value or not value[:8].lower().startswith(("https://", "http://")):
        return None
    try:
        return value if urlsplit(value).hostname else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r:.80}"
