"""A batch task's spend cap, pure: a limit on items submitted and on the usage the vendor reported.

Video vendors report usage only when a generation finishes, so a usage limit is checked against what has
been reported so far: before each submission, the batch asks for its unfinished items' records (one
``retrieve_batch``) and submits one item at a time. The item whose usage crosses the limit is already paid
for; every item after it is not submitted. Items still rendering count only once they report, so a
usage cap can be passed by what was in flight; a hard cap on spend is ``max_submissions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_vidgen.core.errors import InvalidInputError

BUDGET_REACHED = "budget_reached"  # the error code of an item the budget kept from being submitted


@dataclass(frozen=True)
class Budget:
    max_submissions: int | None = None
    max_usage: Mapping[str, float] | None = None  # e.g. {"total_tokens": 50000}: stop once any is reached

    @classmethod
    def of(cls, max_submissions: Any, max_usage: Any) -> Budget | None:
        """The budget the operator's parameters describe (None: no limit). Raises InvalidInputError."""
        whole = isinstance(max_submissions, int) and not isinstance(max_submissions, bool)
        if max_submissions is not None and not (whole and max_submissions >= 1):
            raise InvalidInputError(
                "max_submissions", f"must be a whole number of at least 1 (or None), not {max_submissions!r}"
            )
        if max_usage is not None:
            if not isinstance(max_usage, Mapping) or not max_usage:
                raise InvalidInputError(
                    "max_usage", f"must map usage fields to limits, e.g. {{'total_tokens': 50000}}, not {max_usage!r}"
                )
            for key, limit in max_usage.items():
                if not isinstance(key, str) or isinstance(limit, bool) or not isinstance(limit, int | float):
                    raise InvalidInputError("max_usage", f"{key!r}: a usage field name and a number, not {limit!r}")
                if limit <= 0:
                    raise InvalidInputError("max_usage", f"{key!r}: the limit must be above 0, not {limit!r}")
        if max_submissions is None and max_usage is None:
            return None
        return cls(max_submissions, dict(max_usage) if max_usage is not None else None)

    @property
    def watches_usage(self) -> bool:
        return bool(self.max_usage)

    def reached(self, items: int, usage: Mapping[str, float]) -> str | None:
        """Why no further item may be submitted, given ``items`` already submitted (this task's, every try)
        and the ``usage`` reported for them; None while there is room."""
        if self.max_submissions is not None and items >= self.max_submissions:
            return f"max_submissions={self.max_submissions} reached ({items} item(s) submitted by this task)"
        for key, limit in (self.max_usage or {}).items():
            if usage.get(key, 0) >= limit:
                return (
                    f"max_usage {key}={limit:g} reached ({usage[key]:g} reported by the vendor; the item that crossed "
                    "the limit is already paid for)"
                )
        return None
