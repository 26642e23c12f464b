"""One task for a whole batch of generations: validate all, submit each once (paced), wait once, keep every failure.

What a batch adds to the shared flow (``operators.base``): its per-item lists, its settings (a budget, a
submission deadline, its offset in a chunked run), and a success policy (``min_success`` /
``fail_on_failed``) over every item's result, which XCom keeps whole or, too large, as a stored manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.batch import (
    DEFAULT_MAX_ITEMS,
    check_items,
    check_min_success,
    count,
    progress_line,
    required_successes,
)
from airflow_provider_vidgen.core.budget import Budget
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult, total_usage
from airflow_provider_vidgen.core.submission import Submission, is_literal
from airflow_provider_vidgen.operators.base import BaseGenerationOperator
from airflow_provider_vidgen.operators.submitter import SubmissionStopped, SubmitOptions
from airflow_provider_vidgen.storage import keep_small

if TYPE_CHECKING:
    from airflow.sdk import Context

SHOWN_FAILURES = 10
# The settings a batch checks itself (check_settings): any of them may be mapped from upstream XCom.
BATCH_SETTINGS = ("max_items", "min_success", "max_submissions", "max_usage", "submit_timeout", "item_offset")


def raw_bodies(bodies: Any, max_items: int, fixed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The generic batches' ``bodies``: a list of request-field dicts, each with ``fixed`` added."""
    checked = check_items(bodies, "bodies", max_items)
    for index, body in enumerate(checked):
        if not isinstance(body, dict):
            raise InvalidInputError(f"bodies[{index}]", f"must be a dict of request fields, got {body!r}")
    return [{**body, **fixed} for body in checked]  # type: ignore[dict-item]


class BaseBatchVideoOperator(BaseGenerationOperator):
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
    :param submit_timeout: seconds after which this try stops submitting (None: no deadline). 429s never
        stop a batch: the token's shared pace slows down and it keeps going, until this deadline.
    :param item_offset: the first item's index in the whole run when this task is one chunk of it (see
        ``core.batch.batch_chunks``): results carry ``index`` = offset + position, so chunks merge in order.
    :param max_submissions: a budget: the most items of this batch that get a vendor task, over all its tries
        (an item submitted again after it failed is the same item: use ``max_usage`` to cap what retries
        spend). Items past it are not submitted; they are returned as failed with the code ``budget_reached``,
        and ``min_success`` / ``fail_on_failed`` decide the task's state.
    :param max_usage: a budget on the usage the vendor reports, e.g. ``{"total_tokens": 50000}``: once any
        field's total over this task's items reaches its limit, no further item is submitted (the item that
        crossed it is already paid for). Vendors report usage when a generation finishes, so with it set the
        batch submits one item at a time and reads its unfinished items' records before each submission;
        items still rendering count only once they report.
    :param results_path: object storage for results too large for XCom (``airflow_provider_vidgen.storage``:
        default the ``[vidgen] results_path`` option, else under AIRFLOW_HOME); XCom then holds a manifest.

    Returns (XCom) a list of result dicts, one per item in input order, each with ``index`` and
    ``prompt``; ``usage`` where the vendor reports it. XCom ``summary`` holds the counts and the
    usage totals; ``vendor_task_id`` the ids in input order.
    """

    items_param: ClassVar[str] = "prompts"  # the per-item list named in messages
    item_fields: ClassVar[Mapping[str, str]] = {}  # per-item list parameter -> request field
    shared_fields: ClassVar[tuple[str, ...]] = ()  # named parameters sent with every item
    sent_defaults: ClassVar[tuple[str, ...]] = ()  # fields always sent with their value from the row
    ui_color = "#e4d4ff"

    def __init__(
        self,
        *,
        min_success: int | float | None = None,
        fail_on_failed: bool = True,
        max_items: int = DEFAULT_MAX_ITEMS,
        submit_timeout: float | None = None,
        item_offset: int = 0,
        results_path: Any = None,
        max_submissions: int | None = None,
        max_usage: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_success = min_success
        self.fail_on_failed = fail_on_failed
        self.max_items = max_items
        self.max_submissions = max_submissions
        self.max_usage = max_usage
        self.submit_timeout = submit_timeout
        self.item_offset = item_offset
        self.results_path = results_path

    # ------------------------------------------------------------------ what to submit

    def fixed_fields(self) -> dict[str, Any]:
        """Request fields every item gets: the row's always-sent defaults and the named shared parameters."""
        row = self.vendor.services[self.service_name()].defaults if self.sent_defaults else {}
        fields = {name: row[name] for name in self.sent_defaults}
        fields.update({name: getattr(self, name) for name in self.shared_fields})
        return {key: value for key, value in fields.items() if value is not None}

    def item_lists(self) -> dict[str, Any]:
        return {param: getattr(self, param) for param in self.item_fields if getattr(self, param) is not None}

    def item_bodies(self) -> list[dict[str, Any]]:
        """One request body per item: the shared fields plus the item's own values (raises InvalidInputError)."""
        lists = self.item_lists()
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

    def checked_submissions(self, service: str) -> list[Submission]:
        """Every item validated (once) into its submission; the error names the item's index and field."""
        self.check_settings()
        return [self._item(index, lambda body: self.prepare(service, body), body) for index, body in self._bodies()]

    def check_literal_body(self) -> None:
        self.check_settings(literal_only=True)
        service = self.service_name()
        if all(is_literal(value) for value in (service, self.max_items, *self.item_lists().values())):
            for index, body in self._bodies():
                self._item(index, lambda body: self.check_literal(service, body), body)

    def check_settings(self, *, literal_only: bool = False) -> None:
        """The batch's own settings; with ``literal_only`` (parse time) a value from upstream XCom waits for the run."""
        unknown = {name for name in BATCH_SETTINGS if literal_only and not is_literal(getattr(self, name))}
        max_items = self.max_items
        if "max_items" not in unknown and (
            isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1
        ):
            raise InvalidInputError("max_items", f"must be a positive integer, got {max_items!r}")
        if "min_success" not in unknown:
            check_min_success(self.min_success)
        if not unknown & {"max_submissions", "max_usage", "submit_timeout"}:
            self.submit_options()  # the budget and the submission deadline, checked as the submitter takes them
        offset = self.item_offset
        if "item_offset" not in unknown and (isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
            raise InvalidInputError("item_offset", f"must be an integer >= 0, got {offset!r}")

    def request_bodies(self) -> list[dict[str, Any]]:
        return self.item_bodies()

    def budget(self) -> Budget | None:
        return Budget.of(self.max_submissions, self.max_usage)

    def _bodies(self) -> list[tuple[int, dict[str, Any]]]:
        return list(enumerate(self.item_bodies()))

    @staticmethod
    def _item(index: int, check: Any, body: dict[str, Any]) -> Any:
        try:
            return check(body)
        except InvalidInputError as err:
            if err.field in ("service", "module"):  # not about this item: say it once
                raise
            raise InvalidInputError(
                f"item[{index}].{err.field}", f"{err.problem}; nothing was submitted for any item"
            ) from None

    # ------------------------------------------------------------------ submitting and results

    def submit_options(self) -> SubmitOptions:
        """A batch rides out 429s (the token's shared pace slows down), until its deadline and within its budget."""
        return SubmitOptions(ride_out_throttles=True, submit_timeout=self.submit_timeout, budget=self.budget())

    def stopped(self, stopped: SubmissionStopped) -> AirflowException:
        """The API error, what this try left of the batch, then the error's next step."""
        error = super().stopped(stopped)
        other = len(stopped.outcomes) - stopped.recorded
        left = (
            f"Stopped submitting this try: {stopped.recorded} of {stopped.total} item(s) accepted (recorded: a "
            f"retry or a clear reattaches to them, nothing is paid twice), {stopped.refused} refused with this "
            f"error and {stopped.never_sent} never sent (nothing created for either: the next try submits them)"
        )
        if stopped.in_doubt:
            left += f", {stopped.in_doubt} in doubt (not resent: the next try looks them up first)"
        left += f", {other} settled otherwise (see the log)." if other else "."
        return type(error)(stopped.error.told(left))

    def conclude(self, context: Context, ordered: list[TaskResult], returned: list[dict[str, Any]]) -> Any:
        """The summary, then the success policy (``min_success`` / ``fail_on_failed``) once the wait is over;
        results and failures too large for XCom are stored (``results_path``) and XCom holds their manifest."""
        counts = count(ordered, len(ordered))
        usage = total_usage(ordered)
        summary = {"items": counts.total, "succeeded": counts.succeeded, "failed": counts.failed, "usage": usage}
        context["ti"].xcom_push(key=xcom.SUMMARY, value=summary)
        spent = ", ".join(f"{key}={value:g}" for key, value in sorted(usage.items())) or "not reported by the API"
        self.log.info("Batch: %s; usage: %s", progress_line(counts, "done"), spent)
        failed = [(index, result) for index, result in enumerate(ordered) if result.state == "failed"]
        for index, result in failed:
            self.log.warning("Item %d failed: %s", index, result.describe())
        small = keep_small(returned, context, "results", root=self.results_path, summary=summary)
        if not self.wait_for_completion:
            return small
        required = required_successes(len(ordered), min_success=self.min_success, fail_on_failed=self.fail_on_failed)
        if counts.succeeded < required:
            # Kept in XCom (key "failure") so a downstream all_done task can report them.
            ti = context["ti"]  # its map index tells the download which task instance these failures explain
            failures = [{**returned[index], "map_index": ti.map_index} for index, _ in failed]
            ti.xcom_push(key=xcom.FAILURE, value=keep_small(failures, context, "failures", root=self.results_path))
            shown = "; ".join(f"item {index}: {result.describe()}" for index, result in failed[:SHOWN_FAILURES])
            more = f"; and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
            raise AirflowException(
                f"{counts.failed} of {counts.total} generation(s) failed and {required} must succeed "
                f"(min_success={self.min_success!r}, fail_on_failed={self.fail_on_failed}): {shown}{more}. "
                "A retry of this task submits only the failed items again."
            )
        return small
