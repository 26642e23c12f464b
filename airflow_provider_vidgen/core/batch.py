"""What a batch of generations needs beyond one: how many submissions overlap, counting, the success policy
(pure, no I/O). The pace of requests is the token's, shared by every task (``core.pace``, ``hooks.pace``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult

# A batch task holds at most this many items unless max_items says otherwise: a typo such as a
# prompt list multiplied by mistake fails before anything is paid for.
DEFAULT_MAX_ITEMS = 1000
# Submissions of one batch under way at once, at most: enough to keep the paced rate while each
# answer takes up to a second or two, few enough to stay a polite client.
MAX_SUBMISSIONS_IN_FLIGHT = 16


def submissions_in_flight(rate: float) -> int:
    """How many submissions may overlap at ``rate`` requests/s: two seconds' worth, 1..16."""
    return max(1, min(MAX_SUBMISSIONS_IN_FLIGHT, math.ceil(rate * 2)))


@dataclass(frozen=True)
class Counts:
    total: int
    succeeded: int
    failed: int

    @property
    def running(self) -> int:
        return self.total - self.succeeded - self.failed


def count(results: Iterable[TaskResult | None], total: int) -> Counts:
    """Counts over ``total`` items; an item without a result (not polled yet) counts as running."""
    succeeded = failed = 0
    for result in results:
        if result is None:
            continue
        succeeded += result.state == "succeeded"
        failed += result.state == "failed"
    return Counts(total, succeeded, failed)


def progress_line(counts: Counts, elapsed: str) -> str:
    """``412/1000 succeeded, 3 failed, 585 running (6m12s)``: one line for a whole batch."""
    return f"{counts.succeeded}/{counts.total} succeeded, {counts.failed} failed, {counts.running} running ({elapsed})"


def required_successes(total: int, *, min_success: int | float | None, fail_on_failed: bool) -> int:
    """How many items must succeed for the task to succeed.

    ``min_success`` (a count, or a share between 0 and 1 as a float) wins when given; otherwise every
    item must succeed with ``fail_on_failed``, and none without.
    """
    if min_success is None:
        return total if fail_on_failed else 0
    if isinstance(min_success, float) and 0 < min_success <= 1:
        return math.ceil(min_success * total - 1e-9)
    return min(int(min_success), total)


def check_min_success(value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError("min_success", f"must be a count or a share (0 < x <= 1), got {value!r}")
    if isinstance(value, float) and not 0 < value <= 1:
        raise InvalidInputError("min_success", f"a float is a share of the items: 0 < x <= 1, got {value!r}")
    if isinstance(value, int) and value < 0:
        raise InvalidInputError("min_success", f"must not be negative, got {value!r}")


def check_items(items: object, name: str, max_items: int) -> list[object]:
    """A batch's per-item list: non-empty, at most ``max_items`` long."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence) or isinstance(items, dict):
        raise InvalidInputError(name, f"must be a list, got {type(items).__name__}")
    if not items:
        raise InvalidInputError(name, "must not be empty")
    if len(items) > max_items:
        raise InvalidInputError(
            name,
            f"{len(items)} items exceed max_items={max_items}; split them into chunks with "
            ".partial(...).expand(...) (one task per chunk), or raise max_items on purpose",
        )
    return list(items)


def batch_chunks(size: int = DEFAULT_MAX_ITEMS, **lists: Sequence[object]) -> list[dict[str, object]]:
    """One batch task's arguments per chunk of at most ``size`` items, for ``.expand_kwargs(...)``.

    Each chunk gets its slice of every per-item list (``prompts=``, ``first_image_urls=``, ...) and its
    ``item_offset``, so its results carry their index in the whole run and the chunks merge back in
    order (``storage.load_results``). A chunk is its map index and its positions: a retry or a clear of
    one chunk only ever sees, reattaches to and submits that chunk's items.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError("size", f"must be a positive integer, got {size!r}")
    lengths = {name: len(values) for name, values in lists.items()}
    if not lengths or len(set(lengths.values())) != 1:
        raise InvalidInputError("lists", f"give per-item lists of one length, got {lengths}")
    total = next(iter(lengths.values()))
    return [
        {**{name: list(values[start : start + size]) for name, values in lists.items()}, "item_offset": start}
        for start in range(0, total, size)
    ]


def chunks(items: Sequence[object], size: int) -> list[list[object]]:
    """``items`` in lists of ``size``: for ``.expand(prompts=chunks(prompts, 500))``."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError("size", f"must be a positive integer, got {size!r}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]
