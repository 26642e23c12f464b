"""One task for a whole batch of generations: validate all, submit each once (paced), wait once, keep every failure.

The batch operators reuse the single operator's pieces (validation, ``hook.submit`` with its
"provably nothing created" resend rule, task_state_store, the trigger); what a batch adds is here:
one record per item (so a retry or a crash mid-batch submits only what is missing), pacing to the
connection's ``max_requests_per_second``, and a success policy (``min_success`` / ``fail_on_failed``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_vidgen.core.batch import (
    DEFAULT_MAX_ITEMS,
    Pacer,
    check_items,
    check_min_success,
    count,
    progress_line,
    required_successes,
    submissions_in_flight,
)
from airflow_provider_vidgen.core.errors import AmbiguousSubmissionError, ApiError, InvalidInputError
from airflow_provider_vidgen.core.results import TaskError, TaskResult, request_prompt, total_usage
from airflow_provider_vidgen.core.vendors import check_literal_fields, is_literal, prepare_submission
from airflow_provider_vidgen.links import push_video_url
from airflow_provider_vidgen.operators.base import (
    FAILURE_XCOM,
    VENDOR_TASK_ID_XCOM,
    BaseVideoOperator,
    acknowledged,
    check_event,
    clears_seen,
    fingerprint,
    lookup_window,
    reported,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_vidgen.hooks.base import VideoApiHook

BATCH_KEY = "vidgen_batch"  # task_state_store: set once a try starts submitting; items under BATCH_KEY/<id>/<n>
UNSUBMITTED_XCOM = "unsubmitted"  # items that have no vendor task id, with the reason
SUMMARY_XCOM = "summary"
# Vendor answers that refuse one item's request (nothing created): that item fails, the batch goes on.
ITEM_REFUSED_STATUSES = frozenset({400, 413, 422})
SUBMIT_LOG_SECONDS = 10.0  # a submission progress line at least this often
SHOWN_FAILURES = 10


def item_keys(conn_id: str, vendor: str, service: str, bodies: Sequence[Mapping[str, Any]]) -> list[str]:
    """A task_state_store key per item, from its inputs: equal items get their own key by occurrence,
    so a retry finds each item's record even after the list was reordered or extended."""
    seen: dict[str, int] = {}
    keys = []
    for body in bodies:
        identity = fingerprint(conn_id, vendor, service, body)
        seen[identity] = seen.get(identity, 0) + 1
        keys.append(f"{BATCH_KEY}/{identity}/{seen[identity]}")
    return keys


class BaseBatchVideoOperator(BaseVideoOperator):
    """Generate a batch of videos in one task, and return every item's result in input order.

    Every item is validated before the first request (a bad one fails the task naming its index
    and field, and nothing is sent). Submissions are paced to the connection's extra
    ``max_requests_per_second`` (default 10) and resent only when provably nothing was created.
    Each vendor task id is recorded in ``task_state_store`` as soon as it is accepted, so a retry
    (or a try that crashed mid-batch) reattaches to what exists and submits only what is missing or
    failed. The task then defers once with every id; the trigger polls them in batches and logs one
    progress line for the batch.

    :param min_success: succeed when at least this many items succeeded (an int), or this share of
        them (a float, 0 < x <= 1); replaces ``fail_on_failed`` when given. Failed items stay in the
        returned list with their vendor task id and error.
    :param fail_on_failed: without ``min_success``: fail the task when any item failed (default),
        or return the failures with the rest.
    :param max_items: the most items this task accepts (default 1000), so a mistake cannot order
        10,000 videos; split larger runs with ``.partial(...).expand(...)`` over chunks.

    Returns (XCom) a list of result dicts, one per item in input order, each with ``index`` and
    ``prompt``; ``usage`` where the vendor reports it. XCom ``summary`` holds the counts and the
    usage totals; ``vendor_task_id`` the ids in input order.
    """

    items_param: ClassVar[str] = "prompts"  # the per-item list named in messages
    item_fields: ClassVar[Mapping[str, str]] = {}  # per-item list parameter -> request field
    ui_color = "#e4d4ff"

    def __init__(
        self,
        *,
        min_success: int | float | None = None,
        fail_on_failed: bool = True,
        max_items: int = DEFAULT_MAX_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_success = min_success
        self.fail_on_failed = fail_on_failed
        self.max_items = max_items

    # ------------------------------------------------------------------ what to submit

    def fixed_fields(self) -> dict[str, Any]:
        """Request fields every item gets: the named shared parameters (``service_fields``)."""
        return BaseVideoOperator.request_body(self)

    def item_bodies(self) -> list[dict[str, Any]]:
        """One request body per item: the shared fields plus the item's own values (raises InvalidInputError)."""
        lists = {param: getattr(self, param) for param in self.item_fields if getattr(self, param) is not None}
        if not lists:
            raise InvalidInputError(self.items_param, "must be a non-empty list")
        checked = {param: check_items(value, param, self.max_items) for param, value in lists.items()}
        main, size = next((param, len(value)) for param, value in checked.items())
        for param, value in checked.items():
            if len(value) != size:
                raise InvalidInputError(param, f"has {len(value)} items but {main} has {size}: one per item")
        fixed = self.fixed_fields()
        return [
            {**fixed, **{self.item_fields[param]: value[index] for param, value in checked.items()}}
            for index in range(size)
        ]

    def request_body(self) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} sends one body per item: see item_bodies()")

    def _literal_lists(self) -> bool:
        return all(is_literal(getattr(self, param)) for param in self.item_fields)

    def checked_bodies(self, service: str, *, literal_only: bool = False) -> list[dict[str, Any]] | None:
        """Every item's body, each validated; the error names the item's index and field."""
        if not isinstance(self.max_items, int) or isinstance(self.max_items, bool) or self.max_items < 1:
            raise InvalidInputError("max_items", f"must be a positive integer, got {self.max_items!r}")
        check_min_success(self.min_success)
        if literal_only and not (self._literal_lists() and is_literal(service)):
            return None
        bodies = self.item_bodies()
        for index, body in enumerate(bodies):
            try:
                if literal_only:
                    check_literal_fields(self.vendor, service, body, allow_unknown=self.allow_unknown_fields)
                else:
                    prepare_submission(self.vendor, service, body, allow_unknown=self.allow_unknown_fields)
            except InvalidInputError as err:
                if err.field == "service":  # not about this item: say it once
                    raise
                raise InvalidInputError(
                    f"item[{index}].{err.field}", f"{err.problem}; nothing was submitted for any item"
                ) from None
        return bodies

    def check_literal_body(self) -> None:
        self.checked_bodies(self.service_name(), literal_only=True)

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> list[dict[str, Any]]:
        service = self.service_name()
        try:
            bodies = self.checked_bodies(service) or []
            self.check_timings()
        except InvalidInputError as err:
            raise self.invalid_input(service, err) from None

        store = self.state_store(context)
        keys = item_keys(self.conn_id, self.vendor.name, service, bodies)
        hook = self.get_hook()
        clears = clears_seen(context)
        try:
            self.check_connection(hook)
            slots = self._reattach_batch(hook, store, service, bodies, keys, clears)
            self._submit_missing(hook, store, service, bodies, keys, slots, clears)
        finally:
            hook.close()

        ordered = [slots[index] for index in range(len(bodies))]
        ids = [result.task_id or None for result in ordered]
        self._submitted = (service, [task_id for task_id in ids if task_id])  # for on_kill
        ti = context["ti"]
        ti.xcom_push(key=VENDOR_TASK_ID_XCOM, value=ids)
        unsubmitted = {str(i): r.to_dict()["error"] for i, r in enumerate(ordered) if not r.task_id and r.error}
        # Always pushed (empty too): the resumed task reads it back, and a missing XCom logs an error.
        ti.xcom_push(key=UNSUBMITTED_XCOM, value=unsubmitted)
        push_video_url(context, [])  # an empty link until the videos exist (see the single operator)
        waiting = [task_id for task_id in ids if task_id]
        if not self.wait_for_completion or all(result.terminal for result in ordered) or not waiting:
            return self._finish(context, ordered, bodies)
        return self._wait(context, service, waiting)

    def _submit_item(self, hook: VideoApiHook, service: str, body: dict[str, Any], pacer: Pacer) -> str:
        """One submission, resent only when provably nothing was created (the hook's rule); every
        request it sends, resends included, takes a slot of the pacer."""
        return hook.submit(service, body, allow_unknown=self.allow_unknown_fields, pace=pacer.wait)

    def _reattach_batch(
        self,
        hook: VideoApiHook,
        store: Any,
        service: str,
        bodies: list[dict[str, Any]],
        keys: list[str],
        clears: int | None,
    ) -> dict[int, TaskResult]:
        """What earlier tries of this task left: every item's recorded task, unless it failed."""
        if store is None or not store.get(BATCH_KEY):
            return {}
        records = {index: store.get(key) for index, key in enumerate(keys)}
        records = {index: record for index, record in records.items() if isinstance(record, dict)}
        recorded = {i: r["task_id"] for i, r in records.items() if r.get("task_id")}
        ambiguous = {i: r["ambiguous"] for i, r in records.items() if r.get("ambiguous")}
        # Clearing the task after an ambiguous item was reported is the user's "there was none: submit it again".
        cleared = [index for index in ambiguous if acknowledged(records[index], clears)]
        if cleared:
            self.log.warning(
                "%d ambiguous item(s) reported by an earlier try are submitted again: this task was cleared since",
                len(cleared),
            )
            for index in cleared:
                del ambiguous[index]
        lost = {i: float(r["intent_at"]) for i, r in records.items() if r.get("intent_at") and i not in recorded}
        if lost:
            for index, outcome in self._find_lost(hook, service, bodies, lost, set(recorded.values())).items():
                if outcome.startswith("task:"):
                    recorded[index] = outcome.removeprefix("task:")
                    store.set(keys[index], {"task_id": recorded[index], "service": service})
                elif outcome:
                    ambiguous[index] = outcome
                    store.set(keys[index], reported({"ambiguous": outcome}, clears))
        try:
            found = hook.retrieve_many(service, list(recorded.values())) if recorded else {}
        except ApiError as err:
            raise (AirflowException if err.retryable else AirflowFailException)(str(err)) from None
        slots: dict[int, TaskResult] = {}
        failed = 0
        for index, task_id in recorded.items():
            if found[task_id].state == "failed":
                failed += 1  # the one case an item is submitted again
            else:
                slots[index] = found[task_id]
        for index, message in ambiguous.items():
            slots[index] = self._unsubmitted(service, "ambiguous_submission", message)
        if recorded or ambiguous:
            states = count(slots.values(), len(slots))
            self.log.info(
                "Reattaching to %d earlier submission(s) instead of submitting again (%d succeeded, %d running); "
                "%d failed earlier and are submitted again; %d ambiguous submission(s) are not resent",
                len(recorded) - failed,
                states.succeeded,
                states.running,
                failed,
                len(ambiguous),
            )
        return slots

    def _find_lost(
        self,
        hook: VideoApiHook,
        service: str,
        bodies: list[dict[str, Any]],
        lost: dict[int, float],
        known: set[str],
    ) -> dict[int, str]:
        """Items an earlier try sent and died before recording: ``task:<id>`` when found on the vendor
        side by their request, ``""`` when provably never created (submit again), else why not resent."""
        label = self.vendor.label
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(min(lost.values())))
        what = (
            f"an earlier try sent this {label} {service} submission around {when} and stopped before it recorded "
            "the vendor task id"
        )
        advice = (
            "Look for it in the vendor console: if it is there, wait for it with VideoTaskSensor; if it is not, "
            "clear this task: the cleared task submits it again (items with a recorded id are reattached, not "
            "resent). Not resent automatically, to avoid a duplicate charge."
        )
        outcome: dict[int, str] = {}
        groups: dict[str, list[int]] = {}  # equal bodies are looked up once, and share what is found
        if not hook.vendor.finds_submissions:
            outcome = dict.fromkeys(lost, f"{what}, and {label} cannot list tasks by time. {advice}")
        else:
            for index in sorted(lost):
                groups.setdefault(json.dumps(bodies[index], sort_keys=True, default=str), []).append(index)
        if groups:
            window = lookup_window(hook, min(lost.values()), max(lost.values()))
            try:
                searches = hook.find_many_submissions(service, [bodies[group[0]] for group in groups.values()], window)
            except ApiError as err:  # nothing of this try was sent yet: a retry may look again
                raise AirflowException(f"{len(lost)} item(s): {what}; looking them up failed: {err}") from None
            for group, search in zip(groups.values(), searches, strict=True):
                candidates = [task_id for task_id in search.matches if task_id not in known]
                if not search.unreadable and not candidates:
                    outcome.update(dict.fromkeys(group, ""))
                elif not search.unreadable and len(candidates) == len(group):
                    outcome.update({index: f"task:{task_id}" for index, task_id in zip(group, candidates, strict=True)})
                else:
                    outcome.update(
                        dict.fromkeys(
                            group,
                            f"{what}; the lookup is not conclusive ({len(candidates)} task(s) with this request for "
                            f"{len(group)} item(s); {search.unreadable} without a readable request). {advice}",
                        )
                    )
        found = sum(1 for value in outcome.values() if value.startswith("task:"))
        resent = sum(1 for value in outcome.values() if not value)
        self.log.warning(
            "%d item(s) were sent by an earlier try that stopped before recording them: %d found on the vendor "
            "side by their request, %d provably not created (submitted now), %d not conclusive (not resent)",
            len(lost),
            found,
            resent,
            len(lost) - found - resent,
        )
        return outcome

    def _unsubmitted(self, service: str, code: str, message: str) -> TaskResult:
        return TaskResult("", service, self.vendor.name, "failed", error=TaskError(code, message))

    def _submit_missing(
        self,
        hook: VideoApiHook,
        store: Any,
        service: str,
        bodies: list[dict[str, Any]],
        keys: list[str],
        slots: dict[int, TaskResult],
        clears: int | None = None,
    ) -> None:
        todo = [index for index in range(len(bodies)) if index not in slots]
        if not todo:
            return
        rate = hook.settings.max_requests_per_second
        if store is not None and not store.get(BATCH_KEY):
            store.set(BATCH_KEY, {"items": len(bodies)})
        self.log.info(
            "Submitting %d of %d %s %s item(s), at most %g request(s)/s (connection %r extra max_requests_per_second)",
            len(todo),
            len(bodies),
            self.vendor.label,
            service,
            rate,
            self.conn_id,
        )
        pacer = Pacer(rate)
        hook.get_conn()  # one client, made before the submitting threads share it
        started = last_line = time.monotonic()
        stop: ApiError | None = None
        done = 0
        waiting = iter(todo)
        pending: dict[Future[str], int] = {}
        # Submissions overlap so that the API's latency does not cap the rate (one at a time, a 0.5 s
        # answer would allow 2/s); the pacer alone sets the rate. Records are written here, in this
        # thread: an item's intent just before it is handed out, its vendor id as soon as it is back.
        in_flight = submissions_in_flight(rate)
        pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="vidgen-submit")

        def hand_out() -> None:
            while stop is None and len(pending) < in_flight:
                index = next(waiting, None)
                if index is None:
                    return
                if store is not None:  # a try that dies before recording the id is found again by it
                    store.set(keys[index], {"intent_at": time.time(), "service": service})
                pending[pool.submit(self._submit_item, hook, service, bodies[index], pacer)] = index

        try:
            hand_out()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    done += 1
                    try:
                        task_id = future.result()
                    except AmbiguousSubmissionError as err:
                        # Never resent, not even by a retry: it may have created a paid task.
                        message = f"{err} Not resent by a retry of this task (clearing it submits it again)."
                        if store is not None:
                            store.set(keys[index], reported({"ambiguous": message}, clears))
                        slots[index] = self._unsubmitted(service, "ambiguous_submission", message)
                        self.log.warning("Item %d: %s", index, message)
                        continue
                    except ApiError as err:
                        if not err.retryable and err.nothing_created and err.status in ITEM_REFUSED_STATUSES:
                            slots[index] = self._unsubmitted(service, err.code or f"http_{err.status}", str(err))
                            self.log.warning("Item %d was refused by the API (nothing created): %s", index, err)
                            if store is not None:
                                store.delete(keys[index])  # nothing was created: no intent to look up
                            continue
                        stop = stop or err  # hand out nothing new; the submissions under way are recorded
                        if store is not None and err.nothing_created:
                            store.delete(keys[index])  # a retry need not look it up
                        continue
                    if store is not None:
                        store.set(keys[index], {"task_id": task_id, "service": service})
                    slots[index] = TaskResult(task_id, service, self.vendor.name, "pending")
                    now = time.monotonic()
                    if now - last_line >= SUBMIT_LOG_SECONDS or done == len(todo):
                        self.log.info(
                            "Submitted %d/%d (%.0fs, %.1fs spent waiting for the rate limit)",
                            done,
                            len(todo),
                            now - started,
                            pacer.waited,
                        )
                        last_line = now
                hand_out()
        except BaseException:
            # Killed or failed while submissions were under way: record what was accepted, so a
            # retry reattaches instead of paying again (what is lost here, the retry looks up).
            pool.shutdown(wait=True, cancel_futures=True)
            self._record_accepted(store, service, keys, pending, slots)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if stop is not None:
            recorded = sum(1 for result in slots.values() if result.task_id)
            raise (AirflowException if stop.retryable else AirflowFailException)(
                f"{stop} Stopped submitting this try; {recorded} of {len(bodies)} item(s) have a recorded vendor "
                "task id, and a retry reattaches to them and submits only the rest."
            ) from None

    def _record_accepted(
        self,
        store: Any,
        service: str,
        keys: list[str],
        futures: Mapping[Future[str], int],
        slots: dict[int, TaskResult],
    ) -> None:
        """Best effort, on the way out: record every accepted submission not recorded yet, and drop the
        intent of every one that was never sent (cancelled before it started), so no retry looks it up."""
        for future, index in futures.items():
            if index in slots or not future.done():
                continue
            try:
                if future.cancelled():
                    if store is not None:
                        store.delete(keys[index])
                elif future.exception() is None:
                    slots[index] = TaskResult(future.result(), service, self.vendor.name, "pending")
                    if store is not None:
                        store.set(keys[index], {"task_id": future.result(), "service": service})
            except Exception:  # the original error is what the log must show
                self.log.warning("Could not update the record of item %d on the way out", index)

    # ------------------------------------------------------------------ results

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        event = check_event(event)
        results = {item["task_id"]: TaskResult.from_dict(item) for item in event.get("results") or []}
        if event["status"] != "success":
            counts = count(results.values(), len(results))
            raise AirflowException(
                f"{event['status']}: {event.get('message')} [{progress_line(counts, 'at the end of the wait')}]"
            )
        service = self.service_name()
        bodies = self.item_bodies()
        ti = context["ti"]
        ids = ti.xcom_pull(task_ids=self.task_id, key=VENDOR_TASK_ID_XCOM, map_indexes=ti.map_index)
        if not isinstance(ids, list) or len(ids) != len(bodies):
            ids = list(event.get("task_ids") or [])  # every item was submitted: the event's order is the input's
        unsubmitted = ti.xcom_pull(task_ids=self.task_id, key=UNSUBMITTED_XCOM, map_indexes=ti.map_index) or {}
        ordered = []
        for index, task_id in enumerate(ids):
            if task_id and task_id in results:
                ordered.append(results[task_id])
            else:
                error = unsubmitted.get(str(index)) or {"code": "not_submitted", "message": "no vendor task id"}
                ordered.append(self._unsubmitted(service, error["code"], error["message"]))
        return self._finish(context, ordered, bodies)

    def _finish(
        self, context: Context, ordered: list[TaskResult], bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        returned = [self.item_result(index, result, bodies[index]) for index, result in enumerate(ordered)]
        counts = count(ordered, len(ordered))
        usage = total_usage(ordered)
        summary = {"items": counts.total, "succeeded": counts.succeeded, "failed": counts.failed, "usage": usage}
        context["ti"].xcom_push(key=SUMMARY_XCOM, value=summary)
        spent = ", ".join(f"{key}={value:g}" for key, value in sorted(usage.items())) or "not reported by the API"
        self.log.info("Batch: %s; usage: %s", progress_line(counts, "done"), spent)
        failed = [(index, result) for index, result in enumerate(ordered) if result.state == "failed"]
        for index, result in failed:
            self.log.warning("Item %d failed: %s", index, result.describe())
        push_video_url(context, [result for result in ordered if result.state == "succeeded"])
        if not self.wait_for_completion:
            return returned
        required = required_successes(len(ordered), min_success=self.min_success, fail_on_failed=self.fail_on_failed)
        if counts.succeeded < required:
            # Kept in XCom (key "failure") so a downstream all_done task can report them.
            context["ti"].xcom_push(key=FAILURE_XCOM, value=[returned[index] for index, _ in failed])
            shown = "; ".join(f"item {index}: {result.describe()}" for index, result in failed[:SHOWN_FAILURES])
            more = f"; and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
            raise AirflowException(
                f"{counts.failed} of {counts.total} generation(s) failed and {required} must succeed "
                f"(min_success={self.min_success!r}, fail_on_failed={self.fail_on_failed}): {shown}{more}. "
                "A retry of this task submits only the failed items again."
            )
        return returned

    def item_result(self, index: int, result: TaskResult, body: Mapping[str, Any]) -> dict[str, Any]:
        data = {"index": index, **result.to_dict()}
        prompt = request_prompt(body)
        if prompt:
            data["prompt"] = prompt
        return data

    def on_kill(self) -> None:
        submitted = getattr(self, "_submitted", None)
        if submitted is None:
            super().on_kill()
            return
        service, ids = submitted
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        self.log.warning(
            "Killed; %d %s %s task(s) keep running on the vendor side (the API has no cancel call): %s. "
            "Retry this task to reattach to them (XCom vendor_task_id lists them all).",
            len(ids),
            self.vendor.label,
            service,
            shown,
        )
