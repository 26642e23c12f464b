"""What every generation operator does: validate, submit once (or reattach), wait, return the result.

Kept cheap to import: hooks (httpx) and the trigger are imported inside ``execute``, so a DAG file
that only declares operators does not pay for them at parse time.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import inspect
import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from airflow.sdk import BaseOperator

from airflow_provider_vidgen.core.errors import AmbiguousSubmissionError, ApiError, InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult, request_prompt
from airflow_provider_vidgen.core.vendors import Vendor, check_literal_fields, is_literal, prepare_submission
from airflow_provider_vidgen.links import VideoLink, push_video_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_vidgen.hooks.base import VideoApiHook

SUBMISSION_KEY = "vidgen_submission"  # task_state_store key, shared by every try of one task instance
VENDOR_TASK_ID_XCOM = "vendor_task_id"
FAILURE_XCOM = "failure"


# Clock difference tolerated between this worker and the vendor when a lost submission is looked up.
LOOKUP_SLACK_SECONDS = 120.0
# Test-only: a file path; the operator writes the vendor task id there right after the submission's
# answer, then waits (before it records the id), so a test can kill the worker at exactly that moment.
HOLD_AFTER_SUBMIT_ENV = "VIDGEN_TEST_HOLD_AFTER_SUBMIT"


def submission_record(identity: str, service: str, task_id: str | None) -> dict[str, Any]:
    """What task_state_store keeps: the intent (no id yet, with its time), then the accepted id."""
    return {"fingerprint": identity, "service": service, "task_id": task_id, "intent_at": time.time()}


def clears_seen(context: Any) -> int | None:
    """How many times this task instance was cleared, as far as a try can tell: Airflow raises the task
    instance's ``max_tries`` on every clear (never on an automatic retry). None where it is not known."""
    value = getattr(context.get("ti"), "max_tries", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reported(record: dict[str, Any], clears: int | None) -> dict[str, Any]:
    """``record`` marked as reported to the user as ambiguous, at the task's current clear count."""
    return {**record, "reported_at": clears}


def acknowledged(record: Mapping[str, Any], clears: int | None) -> bool:
    """Whether the task was cleared after an ambiguous submission was reported: the user's "submit again"."""
    at = record.get("reported_at")
    return isinstance(at, int) and clears is not None and clears > at


def lookup_window(hook: VideoApiHook, sent_from: float, sent_to: float) -> tuple[float, float]:
    """When a submission sent between ``sent_from`` and ``sent_to`` can have been created on the vendor side:
    some slack for clock skew before, every attempt's full timeout after."""
    return sent_from - LOOKUP_SLACK_SECONDS, sent_to + hook.settings.timeout * hook.retry.max_attempts + 60


def after_submission_answer(task_id: str) -> None:
    hold = os.environ.get(HOLD_AFTER_SUBMIT_ENV)
    if hold:
        Path(hold).write_text(task_id)
        deadline = time.monotonic() + 120  # bounded: the test kills the process well before
        while time.monotonic() < deadline:
            time.sleep(0.1)


def check_seconds(name: str, value: Any, *, literal_only: bool = False) -> None:
    if literal_only and not is_literal(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidInputError(name, f"must be a positive number of seconds, got {value!r}")


def default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def fingerprint(conn_id: str, vendor: str, service: str, body: Mapping[str, Any]) -> str:
    """Identity of a generation's inputs: a retry with the same fingerprint reattaches."""
    blob = json.dumps([conn_id, vendor, service, body], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def check_event(event: Any) -> dict[str, Any]:
    """Accept only the trigger's own event statuses; anything else fails loudly (never as success)."""
    from airflow_provider_vidgen.triggers.video import EVENT_STATUSES

    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise AirflowException(f"unexpected trigger event: {event!r}")
    return event


def raise_for_event(event: dict[str, Any]) -> list[TaskResult]:
    """Raise for timeout/error events (naming every vendor task id), return the results otherwise."""
    results = [TaskResult.from_dict(item) for item in event.get("results") or []]
    if event["status"] != "success":
        states = "; ".join(result.describe() for result in results)
        raise AirflowException(f"{event['status']}: {event.get('message')} [{states}]")
    return results


@functools.cache
def accepted_parameters(cls: type) -> frozenset[str]:
    """Every keyword an operator class takes: its own ``__init__`` and those of its bases."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or init is object.__init__:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                names.add(parameter.name)
    names.discard("self")
    return frozenset(names - set(getattr(cls, "refused_parameters", {})))


def unknown_parameter_error(cls: type, unknown: list[str]) -> TypeError:
    known = sorted(accepted_parameters(cls))
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        problems.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return TypeError(f"{cls.__name__} got unknown parameter(s) {', '.join(problems)}")


class VideoOperatorMeta(type(BaseOperator)):  # type: ignore[misc]
    """Checks a video operator where it is written, so mistakes are DAG import errors, not failed runs.

    A misspelt parameter is named with the closest known one, and every literal (non-templated)
    input is validated against the service schema when the DAG file is parsed. Templated values
    are validated when the task runs, still before any request.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        for name in sorted(set(kwargs) & set(cls.refused_parameters)):
            raise TypeError(f"{cls.__name__} does not take {name}=: {cls.refused_parameters[name]}")
        unknown = sorted(name for name in set(kwargs) - accepted_parameters(cls) if not name.startswith("_airflow"))
        if unknown:
            raise unknown_parameter_error(cls, unknown)
        operator = super().__call__(*args, **kwargs)
        if not kwargs.get("_airflow_from_mapped"):  # a mapped task is validated in execute, with the rest
            operator.check_literal_inputs()
        return operator


class BaseVideoOperator(BaseOperator, metaclass=VideoOperatorMeta):
    """Submit one video generation and (optionally) wait for it.

    Retries reattach instead of paying twice: the submitted vendor task id is kept in Airflow's
    ``task_state_store`` (Airflow >= 3.3) under the inputs' fingerprint. A new try with the same
    inputs waits for that task if it is still running, returns it if it succeeded, and submits
    again only if it failed. Changed inputs start a new generation; ``reattach=False`` always does.

    :param wait_for_completion: wait for the video (default) or return right after submission.
    :param deferrable: wait in the triggerer without holding a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait for the video before failing (the generation keeps running).
    :param max_poll_failures: consecutive failed polls tolerated before giving up.
    :param reattach: reuse this task instance's earlier submission with the same inputs.
    :param allow_unknown_fields: pass request fields this provider does not know yet (new API features).
    """

    vendor: ClassVar[Vendor]
    service_fields: ClassVar[Sequence[str]] = ()  # named parameters that are request fields
    # Parameters a base class takes but this class refuses, with the reason (typed operators: ``body``).
    refused_parameters: ClassVar[Mapping[str, str]] = {}
    ui_color = "#f0e4ff"
    operator_extra_links = (VideoLink(),)

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 15.0,
        timeout: float = 3600.0,
        max_poll_failures: int = 5,
        reattach: bool = True,
        allow_unknown_fields: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_poll_failures = max_poll_failures
        self.reattach = reattach
        self.allow_unknown_fields = allow_unknown_fields

    @property
    def conn_id(self) -> str:
        """The connection id, held in the vendor's own (templated) parameter, e.g. ``acedata_conn_id``."""
        return getattr(self, self.vendor.conn_id_param)

    # Subclasses say what to submit.
    def service_name(self) -> str:
        return self.service  # type: ignore[attr-defined]

    def request_body(self) -> dict[str, Any]:
        body = {name: getattr(self, name) for name in self.service_fields}
        return {key: value for key, value in body.items() if value is not None}

    def check_literal_inputs(self) -> None:
        """Validate, when the DAG is parsed, the inputs the DAG file fixes (raises InvalidInputError)."""
        try:
            self.check_literal_body()
            for name in ("poll_interval", "timeout"):
                check_seconds(name, getattr(self, name), literal_only=True)
        except InvalidInputError as err:
            raise InvalidInputError(
                err.field,
                f"{err.problem} ({type(self).__name__} task {self.task_id!r}, checked when the DAG was parsed)",
            ) from None

    def check_literal_body(self) -> None:
        """The request's literal fields against the service schema (batch operators check every item)."""
        check_literal_fields(
            self.vendor, self.service_name(), self.request_body(), allow_unknown=self.allow_unknown_fields
        )

    def get_hook(self) -> VideoApiHook:
        from airflow_provider_vidgen.hooks.base import hook_class

        return hook_class(self.vendor)(self.conn_id)

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        service, body = self.service_name(), self.request_body()
        try:
            # Validate everything before any request: bad input must cost nothing.
            prepare_submission(self.vendor, service, body, allow_unknown=self.allow_unknown_fields)
            self.check_timings()
        except InvalidInputError as err:
            raise self.invalid_input(service, err) from None

        store = self.state_store(context)
        identity = fingerprint(self.conn_id, self.vendor.name, service, body)
        hook = self.get_hook()
        try:
            # The connection first: a missing connection or token fails here, before anything is
            # recorded, so fixing it and clearing the task gives a clean try.
            self.check_connection(hook)
            earlier = self._reattach(hook, store, identity, service, body, clears_seen(context))
            if earlier is None:
                task_id = self._submit(hook, service, body, store, identity, clears_seen(context))
                after_submission_answer(task_id)
                if store is not None:
                    store.set(SUBMISSION_KEY, submission_record(identity, service, task_id))
            else:
                task_id = earlier.task_id
        finally:
            hook.close()
        self._submitted = (service, task_id)  # for on_kill
        context["ti"].xcom_push(key=VENDOR_TASK_ID_XCOM, value=task_id)
        # The worker renders the Video link whenever the task stops (deferral included); an empty
        # value until the video exists keeps it from logging a missing-XCom error.
        push_video_url(context, [])
        if earlier is not None and earlier.state == "succeeded":
            push_video_url(context, [earlier])
            return self.returned(earlier)
        if not self.wait_for_completion:
            return self.returned(TaskResult(task_id, service, self.vendor.name, "pending"))
        return self._wait(context, service, [task_id])

    def _submit(
        self, hook: VideoApiHook, service: str, body: dict[str, Any], store: Any, identity: str, clears: int | None
    ) -> str:
        sent = False

        def record_intent() -> None:
            # The intent exists from the moment a request may leave this process, not before: a try
            # that fails earlier leaves nothing behind.
            nonlocal sent
            if not sent and store is not None:
                store.set(SUBMISSION_KEY, submission_record(identity, service, None))
            sent = True

        try:
            task_id = hook.submit(service, body, allow_unknown=self.allow_unknown_fields, pace=record_intent)
        except AmbiguousSubmissionError as err:
            # No automatic retry: a second try could pay for a second video. The intent stays, so the
            # next try looks the submission up first; clearing the task says "submit it again".
            if store is not None:
                store.set(SUBMISSION_KEY, reported(submission_record(identity, service, None), clears))
            raise AirflowFailException(f"{err} Task not retried to avoid a duplicate charge.") from None
        except ApiError as err:
            if store is not None and sent:  # the API answered with an error: nothing was created, nothing to find
                store.set(SUBMISSION_KEY, {})
            # The message says it all (connection, URL, next step): no chain of internal frames.
            raise (AirflowException if err.retryable else AirflowFailException)(str(err)) from None
        self.log.info("Submitted %s %s task %s", self.vendor.label, service, task_id)
        return task_id

    def check_connection(self, hook: VideoApiHook) -> None:
        """Resolve the connection (defined, its type, token, host, extras) before anything is recorded or sent."""
        try:
            hook.settings  # noqa: B018 - resolving is the check
        except InvalidInputError as err:
            raise AirflowFailException(
                f"{self.vendor.label}: {err}. Nothing was submitted: fix the connection, then clear this task."
            ) from None

    def _reattach(
        self, hook: VideoApiHook, store: Any, identity: str, service: str, body: dict[str, Any], clears: int | None
    ) -> TaskResult | None:
        """The earlier try's task with the same inputs, unless there is none or it failed."""
        if store is None:
            return None
        previous = store.get(SUBMISSION_KEY)
        if not isinstance(previous, dict) or previous.get("fingerprint") != identity:
            return None
        task_id = previous.get("task_id")
        if task_id is None:
            task_id = self._find_lost_submission(hook, store, service, body, previous, clears)
            if task_id is None:
                return None
            store.set(SUBMISSION_KEY, submission_record(identity, service, task_id))
        result = hook.retrieve_many(service, [task_id])[task_id]
        if result.state == "failed":
            self.log.info("Earlier try's generation failed (%s); submitting a new one", result.describe())
            return None
        self.log.info("Reattaching to %s instead of submitting again (%s)", task_id, result.state)
        return result

    def _find_lost_submission(
        self,
        hook: VideoApiHook,
        store: Any,
        service: str,
        body: dict[str, Any],
        previous: dict[str, Any],
        clears: int | None,
    ) -> str | None:
        """An earlier try sent a submission and stopped before it recorded the vendor task id: find it.

        When it cannot be found for sure, the task fails saying so; clearing the task afterwards is
        the user's answer that there was none (see :func:`acknowledged`), and submits again.
        """
        sent_at = float(previous.get("intent_at") or 0)
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(sent_at))
        lost = (
            f"An earlier try of this task sent a {self.vendor.label} {service} submission at {when} and stopped "
            "before it recorded the vendor task id"
        )
        what_to_do = (
            f"Look for a task created around {when} in the {self.vendor.label} console: if there is one, wait for "
            "its id with VideoTaskSensor; if there is none, clear this task: the cleared task submits again. Task "
            "not retried to avoid a duplicate charge."
        )
        cleared = acknowledged(previous, clears)
        problem = f"{lost}, and {self.vendor.label} cannot list tasks by time"
        if hook.vendor.finds_submissions:
            window = lookup_window(hook, sent_at, sent_at)
            try:
                search = hook.find_submissions(service, body, window)
            except ApiError as err:
                search, problem = None, f"{lost}; looking it up failed: {err}"
            if search is not None and search.found:
                self.log.warning("%s; found it on the vendor side by its request: %s", lost, search.found)
                return search.found
            if search is not None and search.none_sent:
                self.log.warning("%s; no task with this request was created then, so it is submitted now", lost)
                return None
            if search is not None:
                problem = (
                    f"{lost}; the lookup is not conclusive ({len(search.matches)} task(s) with this request: "
                    f"{', '.join(search.matches) or '-'}; {search.unreadable} without a readable request)"
                )
        if cleared:
            self.log.warning("%s. This task was cleared after that was reported, so it submits again.", problem)
            return None
        store.set(SUBMISSION_KEY, reported(previous, clears))
        raise AirflowFailException(f"{problem}. {what_to_do}")

    def check_timings(self) -> None:
        for name in ("poll_interval", "timeout"):
            check_seconds(name, getattr(self, name))

    def invalid_input(self, service: str, err: InvalidInputError) -> AirflowFailException:
        return AirflowFailException(f"{self.vendor.label} {service}: invalid input: {err}")

    def state_store(self, context: Context) -> Any:
        """Airflow's task_state_store (shared by every try), or None without reattach or before 3.3."""
        store = context.get("task_state_store") if self.reattach else None
        if self.reattach and store is None:
            self.log.warning(
                "No task_state_store (Airflow < 3.3): a retry of this task submits a new generation. "
                "Upgrade to Airflow 3.3 to reattach instead, or set retries=0 to never pay twice"
            )
        return store

    def _wait(self, context: Context, service: str, task_ids: list[str]) -> Any:
        """Defer to the trigger with every id (or wait for it inline), then ``execute_complete``."""
        from airflow_provider_vidgen.triggers.video import VideoTaskTrigger, wait_inline

        trigger = VideoTaskTrigger(
            conn_id=self.conn_id,
            service=service,
            task_ids=task_ids,
            poll_interval=self.poll_interval,
            end_time=time.time() + self.timeout,
            max_poll_failures=self.max_poll_failures,
            shared_polling=self.deferrable,
        )
        if self.deferrable:
            # The trigger owns the deadline; the framework timeout is only a backstop behind it,
            # because a framework deferral timeout skips execute_complete.
            self.defer(
                trigger=trigger,
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + self.poll_interval + 60),
            )
        return self.execute_complete(context, wait_inline(trigger))

    def returned(self, result: TaskResult) -> dict[str, Any]:
        """The XCom form of a result, with the request's prompt (for the download's manifest and gallery)."""
        data = result.to_dict()
        prompt = request_prompt(self.request_body())
        if prompt:
            data["prompt"] = prompt
        return data

    def on_kill(self) -> None:
        """Best effort, idempotent: the vendor APIs have no cancel call, so say what keeps running (and is billed).

        Airflow calls this for a task killed while running on a worker (blocking wait); a deferred
        task is covered by the trigger's ``on_kill``.
        """
        submitted = getattr(self, "_submitted", None)
        if submitted is None:
            self.log.info("Killed before any %s submission: nothing keeps running", self.vendor.label)
            return
        service, task_id = submitted
        self.log.warning(
            "Killed; %s %s task %s keeps running on the vendor side (the API has no cancel call). "
            "Collect it with VideoTaskSensor(task_ids=[%r], service=%r), or retry this task to reattach to it.",
            self.vendor.label,
            service,
            task_id,
            task_id,
            service,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # Everything needed is in the event: dag.test() drops defer(kwargs=...) (Airflow 3.3.2).
        (result,) = raise_for_event(check_event(event))
        if result.state == "failed":
            # Kept in XCom (key "failure") so a downstream all_done task can report it.
            context["ti"].xcom_push(key=FAILURE_XCOM, value=self.returned(result))
            raise AirflowException(f"Generation failed: {result.describe()}")
        self.log.info("%s", result.describe())
        push_video_url(context, [result])
        return self.returned(result)
