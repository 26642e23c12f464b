"""Wait for existing vendor video tasks (any vendor), e.g. ones submitted with wait_for_completion=False."""

from __future__ import annotations

import ast
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.flows import check_task_ids
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.links import TaskVideosLink, VideoLink, push_video_url
from airflow_provider_vidgen.operators.base import CALLED_BACK, default_deferrable
from airflow_provider_vidgen.storage import keep_small, load
from airflow_provider_vidgen.vendors.acedata import ACEDATA

if TYPE_CHECKING:
    from airflow.sdk import Context


def collect_task_ids(value: Any) -> list[str]:
    """Task ids from whatever upstream produced: ids, result dicts (operator XCom), or their string form."""
    return check_task_ids([item.get("task_id") if isinstance(item, dict) else item for item in _items(value)])


def collect_prompts(value: Any) -> dict[str, str]:
    """The prompts that upstream result dicts carry, by vendor task id (so the sensor's results keep them)."""
    try:
        items = _items(value)
    except InvalidInputError:
        return {}
    return {
        item["task_id"]: item["prompt"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("task_id"), str) and isinstance(item.get("prompt"), str)
    }


def all_called_back(value: Any) -> bool:
    """Whether every upstream result says the vendor will call its task back (``CALLED_BACK``)."""
    try:
        items = _items(value)
    except InvalidInputError:
        return False
    return bool(items) and all(isinstance(item, dict) and item.get(CALLED_BACK) is True for item in items)


def _items(value: Any) -> list[Any]:
    """Ids and result dicts from ``value``: nested lists (chunks), stored results and lazy sequences opened."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = ast.literal_eval(value)  # "{{ ti.xcom_pull(...) }}" renders a Python repr
        except (ValueError, SyntaxError):
            pass
    found: list[Any] = []

    def walk(item: Any, depth: int) -> None:
        item = load(item)  # a batch's results kept in object storage (storage.keep_small)
        if isinstance(item, str | dict) or depth > 4:
            found.append(item)
            return
        if isinstance(item, Sequence) and not isinstance(item, list | tuple):
            # A mapped task's XCom (a lazy sequence): read by index up to its length. Iterating it would
            # ask for one item past the end, which Airflow logs as an "XCom not found" error.
            item = [item[index] for index in range(len(item))]
        if not isinstance(item, Iterable):
            found.append(item)  # check_task_ids names it
            return
        for element in item:
            walk(element, depth + 1)

    walk(value, 0)
    return found


# An id given to the sensor that the vendor still says nothing about after this long (HiDream answers an
# id it does not know with an empty record) fails as not found, naming the id, instead of waiting for ever.
DEFAULT_UNKNOWN_GRACE_SECONDS = 300.0


class VideoTaskSensor(BaseSensorOperator):
    """Wait until every given vendor task has finished; return every task's normalized result.

    :param task_ids: vendor task ids (templated): a list, one id, or the results of generation
        operators (e.g. ``generate.output`` of a mapped operator).
    :param service: the Ace Data service or HiDream module the tasks belong to.
    :param conn_id: an ``acedata`` or ``hidream`` connection; the vendor follows from its type.
    :param deferrable: wait in the triggerer (polls of all sensors share ``retrieve_batch`` requests).
    :param fail_on_failed: fail when any task failed (default); otherwise return the failures too.
    :param max_poll_failures: consecutive failed polls tolerated before giving up (deferrable mode).
    :param poke_interval: seconds between polls (15 by default here, not Airflow's 60).
    :param safety_poll_interval: seconds between polls when every upstream result will be called back by
        the vendor (their connection has a ``callback_base_url``): the callback resumes this sensor, and
        these polls are for a callback that never comes. Default 300.
    :param unknown_grace: seconds an id the vendor says nothing about (HiDream's empty record) may stay so
        before it fails as not found. Default 300, and never more than half of ``timeout``, so a short
        sensor fails as not found instead of timing out.

    ``timeout`` is the deadline, as for every sensor.
    """

    template_fields: Sequence[str] = ("task_ids", "service", "conn_id")
    ui_color = "#f0e4ff"
    operator_extra_links = (VideoLink(), TaskVideosLink())

    def __init__(
        self,
        *,
        task_ids: Any,
        service: str,
        conn_id: str = ACEDATA.default_conn_id,
        deferrable: bool | None = None,
        fail_on_failed: bool = True,
        max_poll_failures: int = 5,
        poke_interval: float = 15.0,
        safety_poll_interval: float = 300.0,
        unknown_grace: float = DEFAULT_UNKNOWN_GRACE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        if isinstance(unknown_grace, bool) or not isinstance(unknown_grace, int | float) or unknown_grace < 0:
            raise InvalidInputError("unknown_grace", f"must be a number of seconds >= 0, got {unknown_grace!r}")
        self.unknown_grace = min(float(unknown_grace), float(self.timeout) / 2)
        self.task_ids = task_ids
        self.service = service
        self.conn_id = conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.fail_on_failed = fail_on_failed
        self.max_poll_failures = max_poll_failures
        self.safety_poll_interval = safety_poll_interval

    def _ids(self) -> list[str]:
        try:
            return collect_task_ids(self.task_ids)
        except InvalidInputError as err:
            raise AirflowFailException(f"invalid input: {err}") from None

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_provider_vidgen.hooks.base import hook_for_connection

        ids = self._ids()
        try:
            hook = hook_for_connection(self.conn_id)
        except InvalidInputError as err:  # e.g. a connection that is not a video vendor's
            raise AirflowFailException(f"invalid input: {err}") from None
        try:
            results = hook.retrieve_many(self.service, ids)
        finally:
            hook.close()
        ordered = [self._past_grace(results[task_id], context) for task_id in ids]
        done = all(result.terminal for result in ordered)
        self.log.info("%d/%d task(s) finished", sum(result.terminal for result in ordered), len(ordered))
        push_video_url(context, ordered)  # the link is rendered whenever the task stops, deferral included
        return PokeReturnValue(is_done=done, xcom_value=self._finish(ordered, context) if done else None)

    def _past_grace(self, result: TaskResult, context: Context) -> TaskResult:
        """In poke mode: an id still unknown to the vendor this long after the sensor started is not found."""
        started = getattr(context.get("ti"), "start_date", None)
        if not result.unknown or started is None:
            return result
        from airflow_provider_vidgen.triggers.video import not_found

        return not_found(result) if time.time() - started.timestamp() > self.unknown_grace else result

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)  # already finished tasks need no deferral
        if first.is_done:
            return first.xcom_value
        from airflow_provider_vidgen.triggers.video import Wait

        wait = Wait(
            conn_id=self.conn_id, service=self.service, task_ids=self._ids(), poll_interval=self.poke_interval,
            safety_poll_interval=self.safety_poll_interval, called_back=all_called_back(self.task_ids),
            timeout=self.timeout, max_poll_failures=self.max_poll_failures, unknown_grace=self.unknown_grace,
        )  # fmt: skip
        self.defer(trigger=wait.trigger(), method_name="execute_complete", timeout=wait.backstop)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from airflow_provider_vidgen.triggers.event import received  # the triggers load when a task runs

        results = received(event).results_or_raise()
        push_video_url(context, results)
        return self._finish(results, context)

    def _finish(self, results: list[TaskResult], context: Context) -> Any:
        failed = [result for result in results if result.state == "failed"]
        if failed and self.fail_on_failed:
            raise AirflowException(
                f"{len(failed)} of {len(results)} generation(s) failed: " + "; ".join(r.describe() for r in failed)
            )
        for result in results:
            self.log.info("%s", result.describe())
        # The prompt: from the upstream results the ids came from, else as the vendor's record echoes it.
        prompts = collect_prompts(self.task_ids)
        returned = [
            {**result.to_dict(), "prompt": prompts[result.task_id]} if result.task_id in prompts else result.to_dict()
            for result in results
        ]
        return keep_small(returned, context, "results")
