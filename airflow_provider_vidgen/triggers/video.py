"""The one trigger: waits for vendor video tasks to finish, by polling only (it never submits)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_vidgen.core.batch import count, progress_line
from airflow_provider_vidgen.core.flows import check_task_ids
from airflow_provider_vidgen.core.results import NOT_FOUND, TaskError, TaskResult
from airflow_provider_vidgen.triggers import poller as poller_module
from airflow_provider_vidgen.triggers.event import ERROR, POLL, SUCCESS, TIMEOUT, WaitEvent
from airflow_provider_vidgen.triggers.poller import (
    DeadlinePassed,
    PollFailure,
    Subscription,
    private_poller,
    shared_poller,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_POLL_FAILURES = 5
_KILLING: set[asyncio.Future[None]] = set()  # on_kill work in flight (a reference keeps it running)
# A waiting task logs how it is doing at least this often, even while nothing changes.
DEFAULT_HEARTBEAT_SECONDS = 30.0


@dataclass(frozen=True)
class Wait:
    """How a task waits for its vendor tasks: the one place the operators and the sensor build their trigger.
    Called back, the trigger keeps only the slow safety poll (the receiver resumes the task)."""

    conn_id: str
    service: str
    task_ids: Sequence[str]
    poll_interval: float
    safety_poll_interval: float
    called_back: bool
    timeout: float
    max_poll_failures: int
    unknown_grace: float  # seconds an id the vendor says nothing about stays pending

    def trigger(self, *, shared_polling: bool = True) -> VideoTaskTrigger:
        now = time.time()
        return VideoTaskTrigger(
            conn_id=self.conn_id,
            service=self.service,
            task_ids=self.task_ids,
            poll_interval=self.safety_poll_interval if self.called_back else self.poll_interval,
            callbacks=self.called_back,
            unknown_deadline=now + self.unknown_grace,
            end_time=now + self.timeout,
            max_poll_failures=self.max_poll_failures,
            shared_polling=shared_polling,
        )

    @property
    def backstop(self) -> timedelta:
        """The framework's deferral timeout, behind the trigger's own deadline: a framework timeout skips
        ``execute_complete``, so the trigger must always end first."""
        interval = self.safety_poll_interval if self.called_back else self.poll_interval
        return timedelta(seconds=self.timeout + interval + 60)


class VideoTaskTrigger(BaseTrigger):
    """Poll vendor tasks until every one is terminal, the deadline passes, or polling keeps failing.

    Fires exactly one event, a :class:`~airflow_provider_vidgen.triggers.event.WaitEvent` (status
    ``success``, ``timeout`` or ``error``; the results in ``task_ids`` order; ``via`` ``poll``), which the
    callback receiver also resumes a task with (``via`` ``callback``). Results are the last known state of
    each task (``pending`` where none is known yet), so a timeout names what still runs.

    Triggers of the same connection in one triggerer share their polls (``retrieve_batch`` in chunks
    of the connection's batch size); ``shared_polling=False`` gives one poll per trigger instead.
    Kwargs hold ids and timings only: the connection (and the vendor, from its type) is resolved
    again wherever the trigger runs.

    :param conn_id: an ``acedata`` or ``hidream`` connection.
    :param service: the service (Ace Data) or module (HiDream) the tasks were submitted to.
    :param task_ids: vendor task ids to wait for.
    :param poll_interval: seconds between polls.
    :param end_time: absolute deadline, epoch seconds; survives triggerer restarts.
    :param max_poll_failures: consecutive failed polls tolerated before giving up.
    :param shared_polling: share polls with the other triggers of the connection in this triggerer.
    :param heartbeat_interval: seconds between "still running" lines while no state changes.
    :param callbacks: every id will be called back: the API server's receiver resumes the task, and this
        trigger's polls (``poll_interval``) are only the safety net for a callback that never comes.
    :param unknown_deadline: epoch seconds after which an id the vendor still says nothing about (HiDream's
        empty record) is reported not found, instead of pending forever (None: never).
    """

    def __init__(
        self,
        conn_id: str,
        service: str,
        task_ids: Sequence[str],
        poll_interval: float = 15.0,
        end_time: float | None = None,
        max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES,
        shared_polling: bool = True,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_SECONDS,
        callbacks: bool = False,
        unknown_deadline: float | None = None,
    ) -> None:
        super().__init__()
        self.callbacks = bool(callbacks)
        self.unknown_deadline = float(unknown_deadline) if unknown_deadline is not None else None
        self.conn_id = conn_id
        self.service = service
        self.task_ids = check_task_ids(list(task_ids))
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time) if end_time is not None else time.time() + 7 * 24 * 3600
        self.max_poll_failures = int(max_poll_failures)
        self.shared_polling = bool(shared_polling)
        self.heartbeat_interval = float(heartbeat_interval)

    @classmethod
    def classpath(cls) -> str:
        """How Airflow names this trigger in its ``trigger`` table."""
        return f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> VideoTaskTrigger:
        """The trigger its serialized kwargs describe (as Airflow stores them); TypeError for what is not."""
        return cls(**dict(kwargs))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            self.classpath(),
            {
                "conn_id": self.conn_id,
                "service": self.service,
                "task_ids": list(self.task_ids),
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "max_poll_failures": self.max_poll_failures,
                "shared_polling": self.shared_polling,
                "heartbeat_interval": self.heartbeat_interval,
                "callbacks": self.callbacks,
                "unknown_deadline": self.unknown_deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            poller = await (shared_poller(self.conn_id) if self.shared_polling else private_poller(self.conn_id))
        except Exception as err:  # e.g. the connection does not exist or has no token
            yield self.event(ERROR, {}, "", f"cannot poll with connection {self.conn_id!r}: {err}")
            return
        # Called back: poll once at once. A callback that came before this task instance was deferred
        # found nothing waiting; this poll finds its final state instead of the next safety poll.
        sub = poller.subscribe(
            self.service, self.task_ids, self.poll_interval, end_time=self.end_time, poll_now=self.callbacks
        )
        if self.callbacks:
            log.info(
                "%d %s task(s) will be called back; a safety poll runs every %s",
                len(self.task_ids), self.service, format_duration(self.poll_interval),
            )  # fmt: skip
        try:
            event = await self._wait(sub, poller.hook.vendor.name)
        finally:
            poller.unsubscribe(sub)  # before the event goes out: its ids are not polled again
        yield event

    async def _wait(self, sub: Subscription, vendor: str) -> TriggerEvent:
        last: dict[str, TaskResult] = {}
        failures = 0
        started = heartbeat = poller_module.clock()
        while True:
            update = await sub.updates.get()
            if isinstance(update, DeadlinePassed):
                return self.event(TIMEOUT, last, vendor, self._timeout_message(last, vendor))
            if isinstance(update, PollFailure):
                if getattr(update.error, "rate_limited", False) and not update.fatal:
                    # The token is shared and busy: the poller has slowed down; that is no failure.
                    log.info("polls of %s are rate limited; slowing down", self.conn_id)
                    continue
                failures += 1
                log.debug("poll %d/%d failed for %s: %s", failures, self.max_poll_failures, self.conn_id, update.error)
                if update.fatal or failures >= self.max_poll_failures:
                    log.warning("giving up on %s after %d failed poll(s): %s", self.task_ids, failures, update.error)
                    return self.event(
                        ERROR, last, vendor, f"polling gave up after {failures} failure(s): {update.error}"
                    )
                continue
            failures = 0
            now = poller_module.clock()
            batch = len(self.task_ids) > 1
            changed = False
            for task_id, result in update.items():
                previous = last.get(task_id)
                if previous is None or previous.state != result.state:  # state changes, and heartbeats below
                    changed = True
                    if not batch:
                        log.info("%s", result.describe())
                        heartbeat = now
                    elif result.state == "failed":  # a failure is never only a number in a count
                        log.warning("%s", result.describe())
            last.update(self._not_found_past_grace(update))
            pending = [task_id for task_id in self.task_ids if not (task_id in last and last[task_id].terminal)]
            if batch and (
                not pending
                or now - heartbeat >= self.heartbeat_interval
                or (changed and now - heartbeat >= min(self.poll_interval, self.heartbeat_interval))
            ):
                # Many ids: one line for all of them, when the counts change (at most once per poll
                # interval, as chunks of one cycle arrive apart) and at every heartbeat.
                log.info("%s", self._progress(last, now - started))
                heartbeat = now
            if not pending:
                return self.event(SUCCESS, last, vendor, "every task reached a final state")
            sub.task_ids = pending  # finished ids are not fetched again
            if now - heartbeat >= self.heartbeat_interval:
                log.info("%s", self._heartbeat(pending, last, now - started))
                heartbeat = now

    def _not_found_past_grace(self, update: dict[str, TaskResult]) -> dict[str, TaskResult]:
        """An id the vendor still says nothing about after ``unknown_deadline`` is reported not found."""
        if self.unknown_deadline is None or time.time() < self.unknown_deadline:
            return update
        return {task_id: not_found(result) if result.unknown else result for task_id, result in update.items()}

    def _progress(self, last: dict[str, TaskResult], waited: float) -> str:
        counts = count((last.get(task_id) for task_id in self.task_ids), len(self.task_ids))
        return f"{self.conn_id} {self.service}: {progress_line(counts, format_duration(waited))}"

    def _heartbeat(self, pending: list[str], last: dict[str, TaskResult], waited: float) -> str:
        """One line on the tasks still running: state and progress as the vendor reports them, and times."""
        timing = f"waiting {format_duration(waited)}, next poll in {format_duration(self.poll_interval)}"
        if len(pending) == 1 and pending[0] in last:
            return f"{last[pending[0]].describe()}; still running ({timing})"
        states = sorted({last[task_id].state for task_id in pending if task_id in last} or {"pending"})
        progress = [last[task_id].progress for task_id in pending if task_id in last]
        known = [value for value in progress if value is not None]
        average = f", {sum(known) / len(known):.0%} on average" if known else ""
        return (
            f"{len(pending)} of {len(self.task_ids)} {self.conn_id} {self.service} task(s) still "
            f"{'/'.join(states)}{average} ({timing})"
        )

    def _results(self, last: Mapping[str, TaskResult], vendor: str) -> tuple[TaskResult, ...]:
        return tuple(
            last.get(task_id) or TaskResult(task_id, self.service, vendor, "pending") for task_id in self.task_ids
        )

    def event(
        self, status: str, last: Mapping[str, TaskResult], vendor: str, message: str, *, via: str = POLL
    ) -> TriggerEvent:
        """This trigger's one event; ``via`` says what found the final states (a poll, or a callback)."""
        event = WaitEvent(status, self.conn_id, self.service, tuple(self.task_ids), self._results(last, vendor),
                          message, via)  # fmt: skip
        return TriggerEvent(event.to_payload())

    def _timeout_message(self, last: dict[str, TaskResult], vendor: str) -> str:
        running = [task_id for task_id in self.task_ids if not (task_id in last and last[task_id].terminal)]
        return (
            f"deadline passed with {len(running)} task(s) still running on the vendor side: {', '.join(running)}; "
            "collect them later with VideoTaskSensor"
        )

    async def on_kill(self) -> None:
        """Called by Airflow >= 3.3 when a user marks the waiting task failed or success, or clears it; never
        on a triggerer restart or redistribution. Cancels at the vendor what the vendor can cancel.

        The triggerer also calls it after the callback receiver resumed the task (it cannot tell the two
        apart), so the tasks are asked first and only those not started are cancelled: never a finished
        one. Where the vendor has no cancel, it says so: those generations go on and are billed.
        """
        # Airflow 3.3.2 cancels the trigger again at each state sync (about every second) until it ends,
        # which would cut the vendor's cancel call short; shielded, the work finishes all the same.
        work = asyncio.ensure_future(self._kill())
        _KILLING.add(work)
        work.add_done_callback(_KILLING.discard)
        await asyncio.shield(work)

    async def _kill(self) -> None:
        from airflow_provider_vidgen.hooks.base import ahook_for_connection

        ids = ", ".join(self.task_ids)
        try:
            hook = await ahook_for_connection(self.conn_id)
        except Exception as err:
            log.warning("Task killed while waiting; cannot reach %s to cancel %s: %s", self.conn_id, ids, err)
            return
        try:
            spec = hook.vendor.service(self.service)
            if hook.vendor.cancel_request(spec, self.task_ids[0]) is None:
                log.warning(
                    "Task killed while waiting; %s cannot cancel %s tasks, so these generations go on (and are "
                    "billed); collect them later with VideoTaskSensor: %s",
                    hook.vendor.label, self.service, ids,
                )  # fmt: skip
                return
            await self._cancel_not_started(hook)
        except Exception as err:  # best effort: the triggerer bounds on_kill and logs, but say what was left
            log.warning("Task killed while waiting; cancelling %s %s task(s) failed: %s", self.conn_id, ids, err)
        finally:
            hook.close()

    async def _cancel_not_started(self, hook: Any) -> None:
        results = await hook.aretrieve_many(self.service, self.task_ids)
        queued = [task_id for task_id in self.task_ids if results[task_id].state == "pending"]
        running = [task_id for task_id in self.task_ids if results[task_id].state == "running"]
        if running:
            log.warning(
                "Task killed while waiting; %s cannot cancel %s tasks that already started, so they go on: %s",
                hook.vendor.label, self.service, ", ".join(running),
            )  # fmt: skip
        for task_id in queued:
            try:
                cancelled = await hook.acancel(self.service, task_id)
            except Exception as err:  # e.g. it started meanwhile: the vendor refuses
                log.warning("Could not cancel %s task %s: %s", self.service, task_id, err)
                continue
            if cancelled:
                log.warning("Cancelled %s task %s at %s (it had not started)", self.service, task_id, hook.vendor.label)
            else:
                log.warning("%s did not confirm cancelling %s task %s", hook.vendor.label, self.service, task_id)
        if not queued and not running:
            log.info("Task killed after every %s task had finished: nothing to cancel", self.service)


def not_found(result: TaskResult) -> TaskResult:
    error = TaskError(
        NOT_FOUND,
        f"{result.vendor} still knows nothing of task {result.task_id} ({result.service}) after the grace time: "
        "check the task id and the service (module) it was submitted to",
    )
    return replace(result, state="failed", error=error, unknown=False)


def format_duration(seconds: float) -> str:
    """``45s``, ``6m12s``, ``1h03m``: elapsed times in log lines."""
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


async def next_event(trigger: BaseTrigger) -> dict[str, Any]:
    """The payload of a trigger's first event, as the triggerer (and ``dag.test()``) would take it."""
    async for event in trigger.run():
        return event.payload
    raise RuntimeError("trigger ended without an event")


def wait_inline(trigger: BaseTrigger) -> dict[str, Any]:
    """Run a trigger to its first event in a private event loop: the blocking (non-deferrable) wait."""
    return asyncio.run(next_event(trigger))
