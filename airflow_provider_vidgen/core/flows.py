"""The request flows every hook, the poller and the emulator's tests share: a vendor's pure protocol
composed with the retry policy, so the sync and async paths are one code path."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.core.transport import ApiRequest, Flow, RetryPolicy, call
from airflow_provider_vidgen.core.vendor import Vendor


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
    return call(request, lambda outcome: vendor.parse_submit(vendor.decode(outcome, request)), retry)


def retrieve_flow(vendor: Vendor, spec: ServiceSpec, task_id: str, retry: RetryPolicy) -> Flow[TaskResult]:
    request = vendor.retrieve_request(spec, task_id)

    def interpret(outcome: Any) -> TaskResult:
        return vendor.interpret_record(spec, task_id, vendor.decode(outcome, request, allow_not_found=True))

    return call(request, interpret, retry)


def cancel_flow(vendor: Vendor, spec: ServiceSpec, request: ApiRequest, retry: RetryPolicy) -> Flow[bool]:
    """Whether the API cancelled the task (``vendor.cancel_request``); its refusals are ApiErrors."""
    return call(request, lambda outcome: vendor.read_cancel(vendor.decode(outcome, request)), retry)


def batch_flow(
    vendor: Vendor, spec: ServiceSpec, task_ids: Sequence[str], retry: RetryPolicy
) -> Flow[dict[str, TaskResult]]:
    """Every id's result: one batch request, or one retrieve per id for a service without a batch
    endpoint (``spec.batch_retrieve``). Either way one flow, so the hooks and the poller drive it alike."""
    if not spec.batch_retrieve:
        return each_flow(vendor, spec, task_ids, retry)
    request = vendor.batch_request(spec, task_ids)
    return call(request, lambda outcome: vendor.parse_batch(spec, task_ids, vendor.decode(outcome, request)), retry)


def each_flow(
    vendor: Vendor, spec: ServiceSpec, task_ids: Sequence[str], retry: RetryPolicy
) -> Flow[dict[str, TaskResult]]:
    """The ids retrieved in turn, each with its own retries; one that fails after them fails the whole
    flow, as a failed batch request would (the caller sees the same outcomes as with a batch)."""
    results: dict[str, TaskResult] = {}
    for task_id in dict.fromkeys(task_ids):
        results[task_id] = yield from retrieve_flow(vendor, spec, task_id, retry)
    return results


def probe_flow(vendor: Vendor) -> Flow[Any]:
    request = vendor.probe_request()
    return call(request, lambda outcome: vendor.decode(outcome, request, allow_not_found=True), RetryPolicy(1))


# ------------------------------------------------------------------------------------------------
# Finding a submission whose id was lost (a try that died between the answer and the record)
# ------------------------------------------------------------------------------------------------


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
    request = vendor.search_request(spec, math.floor(window[0]), math.ceil(window[1]), offset=offset)

    def interpret(outcome: Any) -> SearchPage:
        body = vendor.decode(outcome, request)
        total = body.get("count", body.get("total")) if isinstance(body, Mapping) else None
        return SearchPage(vendor.parse_search(body), total if isinstance(total, int) else None)

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
