"""What every generation operator does: validate once, submit once (or reattach), wait, return results.

Single and batch operators share one flow: the parameters and parse-time checks, ``execute`` (validate,
submit through ``operators.submitter``, push the ids, wait on the trigger), ``execute_complete`` (read the
typed event back into every item's result, in input order) and ``finish`` (one XCom form per result, the
Video link). A single operator is a batch of one: it keeps only its stricter policy (an item in doubt or
refused fails the task; its one generation must succeed) and the unwrapping of its one result. What the
results mean for the task (``conclude``) is each operator's own.

Kept cheap to import: hooks (httpx) and the trigger are imported inside ``execute``, so a DAG file
that only declares operators does not pay for them at parse time.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from airflow.sdk import BaseOperator

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.batch import count, progress_line
from airflow_provider_vidgen.core.budget import BUDGET_REACHED
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskError, TaskResult, request_prompt
from airflow_provider_vidgen.core.submission import (
    Submission,
    check_literal_fields,
    check_seconds,
    is_literal,
    prepare,
)
from airflow_provider_vidgen.links import TaskVideosLink, VideoLink, push_video_url
from airflow_provider_vidgen.operators.submitter import (
    Accepted,
    Held,
    ItemOutcome,
    OverBudget,
    Refused,
    SubmissionStopped,
    SubmitOptions,
    Submitter,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.definitions.mappedoperator import OperatorPartial

    from airflow_provider_vidgen.core.vendor import Vendor
    from airflow_provider_vidgen.hooks.base import VideoApiHook
    from airflow_provider_vidgen.triggers.event import WaitEvent


# How long after its own submission an id may have an empty record (HiDream: sub-tasks appear a little
# after submission) before it is reported not found.
UNKNOWN_GRACE_SECONDS = 600.0

# In a pending result's XCom: the vendor will call this task back, so a sensor waiting on it only needs
# the slow safety poll (VideoTaskSensor).
CALLED_BACK = "callback"


@dataclass(frozen=True)
class Submitted:
    """What a try has with the vendor, in input order: each item's vendor task id ("" where it has none) and
    the indexes of the items the vendor will call back. Set once, by ``execute``; ``on_kill`` reads it."""

    service: str
    task_ids: tuple[str, ...]
    called_back: frozenset[int] = frozenset()

    @property
    def waiting(self) -> list[str]:
        return [task_id for task_id in self.task_ids if task_id]

    @property
    def all_called_back(self) -> bool:
        """Every item with a vendor task will be called back: the wait keeps only the slow safety poll."""
        return all(index in self.called_back for index, task_id in enumerate(self.task_ids) if task_id)

    def left_running(self, label: str) -> str:
        """What a killed task leaves running on the vendor side (the API has no cancel call), and what to do."""
        ids, service = self.waiting, self.service
        if len(ids) == 1:
            return (
                f"Killed; {label} {service} task {ids[0]} keeps running on the vendor side (the API has no cancel "
                f"call). Collect it with VideoTaskSensor(task_ids=[{ids[0]!r}], service={service!r}), or retry "
                "this task to reattach to it."
            )
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        return (
            f"Killed; {len(ids)} {label} {service} task(s) keep running on the vendor side (the API has no cancel "
            f"call): {shown}. Retry this task to reattach to them (XCom vendor_task_id lists them all)."
        )


def default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def clears_seen(context: Any) -> int | None:
    """How many times this task instance was cleared, as far as a try can tell: Airflow raises the task
    instance's ``max_tries`` on every clear (never on an automatic retry). None where it is not known."""
    value = getattr(context.get("ti"), "max_tries", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
        check_parameter_names(cls, kwargs)
        operator = super().__call__(*args, **kwargs)
        # A mapped task's literal arguments were checked by .expand() (operators.mapped); all of them are
        # checked again in execute, templated and upstream values included.
        if not kwargs.get("_airflow_from_mapped"):
            operator.check_literal_inputs()
        return operator


def check_parameter_names(cls: Any, kwargs: Mapping[str, Any]) -> None:
    """A refused or misspelt parameter is a TypeError naming it (with the closest known one)."""
    for name in sorted(set(kwargs) & set(cls.refused_parameters)):
        raise TypeError(f"{cls.__name__} does not take {name}=: {cls.refused_parameters[name]}")
    unknown = sorted(name for name in set(kwargs) - accepted_parameters(cls) if not name.startswith("_airflow"))
    if unknown:
        raise unknown_parameter_error(cls, unknown)


class BaseGenerationOperator(BaseOperator, metaclass=VideoOperatorMeta):
    """The floor under every generation operator, single or batch (see the module docstring).

    Retries reattach instead of paying twice: each generation's vendor task id is kept in Airflow's
    ``task_state_store`` (Airflow >= 3.3) under its inputs' fingerprint. A new try with the same
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
    :param callbacks: when the connection has a ``callback_base_url``, let the vendor's callback finish the
        wait (the default); False polls as if it had none.
    :param safety_poll_interval: seconds between the polls that still run while callbacks are awaited, for
        a callback that never comes (vendors document no retry): default 300.
    """

    vendor: ClassVar[Vendor]
    # Parameters a base class takes but this class refuses, with the reason (typed operators: ``body``).
    refused_parameters: ClassVar[Mapping[str, str]] = {}
    ui_color = "#f0e4ff"
    operator_extra_links = (VideoLink(), TaskVideosLink())
    item_offset: int = 0  # the first item's index in the whole run (a batch chunk sets it)
    submitted: Submitted | None = None  # what this try submitted: set once, by execute

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
        callbacks: bool = True,
        safety_poll_interval: float = 300.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.callbacks = callbacks
        self.safety_poll_interval = safety_poll_interval
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.max_poll_failures = max_poll_failures
        self.reattach = reattach
        self.completed: list[dict[str, Any]] = []  # the results this task returned (for its lineage)
        self.allow_unknown_fields = allow_unknown_fields

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:  # type: ignore[override]
        """Airflow's ``partial``, whose ``.expand()`` checks the literal arguments as the constructor does."""
        from airflow_provider_vidgen.operators.mapped import CheckedPartial

        check_parameter_names(cls, kwargs)
        return CheckedPartial.of(super().partial(**kwargs))

    @property
    def conn_id(self) -> str:
        """The connection id, held in the vendor's own (templated) parameter, e.g. ``acedata_conn_id``."""
        return getattr(self, self.vendor.conn_id_param)

    def service_name(self) -> str:
        return self.service  # type: ignore[attr-defined]

    def get_hook(self) -> VideoApiHook:
        from airflow_provider_vidgen.hooks.base import hook_class

        return hook_class(self.vendor)(self.conn_id)

    # ------------------------------------------------------------------ checks

    def check_literal_inputs(self, mapped: str | None = None) -> None:
        """Validate, when the DAG is parsed, the inputs the DAG file fixes (raises InvalidInputError).

        ``mapped`` says which mapped values these are (``.expand() with prompt[1]``) for a mapped task.
        """
        try:
            self.check_literal_body()
            for name in ("poll_interval", "timeout"):
                check_seconds(name, getattr(self, name), literal_only=True)
        except InvalidInputError as err:
            where = f"{type(self).__name__} task {self.task_id!r}" + (f", {mapped}" if mapped else "")
            raise InvalidInputError(err.field, f"{err.problem} ({where}, checked when the DAG was parsed)") from None

    def check_literal_body(self) -> None:
        raise NotImplementedError

    def prepare(self, service: str, body: Mapping[str, Any]) -> Submission:
        return prepare(self.vendor, service, body, allow_unknown=self.allow_unknown_fields)

    def check_literal(self, service: Any, body: Any) -> None:
        check_literal_fields(self.vendor, service, body, allow_unknown=self.allow_unknown_fields)

    def check_timings(self) -> None:
        for name in ("poll_interval", "timeout"):
            check_seconds(name, getattr(self, name))

    def invalid_input(self, service: str, err: InvalidInputError) -> AirflowFailException:
        return AirflowFailException(f"{self.vendor.label} {service}: invalid input: {err}")

    def check_connection(self, hook: VideoApiHook) -> None:
        """Resolve the connection (defined, its type, token, host, extras) before anything is recorded or sent."""
        try:
            hook.settings  # noqa: B018 - resolving is the check
        except InvalidInputError as err:
            raise AirflowFailException(
                f"{self.vendor.label}: {err}. Nothing was submitted: fix the connection, then clear this task."
            ) from None

    # ------------------------------------------------------------------ the flow: submit, wait, finish

    def execute(self, context: Context) -> Any:
        # The worker renders the Video link whenever the task stops (a failure before submitting and a
        # deferral included): an empty value until the video exists keeps it from logging a missing XCom.
        push_video_url(context, [])
        service = self.service_name()
        try:  # validated once, before any request: bad input must cost nothing
            submissions = self.checked_submissions(service)
            options = self.submit_options()
            self.check_timings()
        except InvalidInputError as err:
            raise self.invalid_input(service, err) from None
        outcomes, called_back = self.submit(context, submissions, options)
        ordered = [self.slot(service, index, outcome) for index, outcome in enumerate(outcomes)]
        self.submitted = submitted = Submitted(service, tuple(result.task_id for result in ordered), called_back)
        ti = context["ti"]
        ti.xcom_push(key=xcom.VENDOR_TASK_ID, value=self.unwrap([task_id or None for task_id in submitted.task_ids]))
        unsubmitted = {str(i): r.to_dict()["error"] for i, r in enumerate(ordered) if not r.task_id and r.error}
        if unsubmitted:  # read back when the task resumes (read_results)
            ti.xcom_push(key=xcom.UNSUBMITTED, value=unsubmitted)
        bodies = [submission.body for submission in submissions]
        if not self.wait_for_completion or all(result.terminal for result in ordered):
            return self.finish(context, ordered, bodies)
        return self.wait(context, service, submitted.waiting, called_back=submitted.all_called_back)

    def checked_submissions(self, service: str) -> list[Submission]:
        """Every item validated (once) into its submission (raises InvalidInputError)."""
        return [self.prepare(service, body) for body in self.request_bodies()]

    def state_store(self, context: Context) -> Any:
        """Airflow's task_state_store (shared by every try), or None without reattach or before 3.3."""
        store = context.get("task_state_store") if self.reattach else None
        if self.reattach and store is None:
            self.log.warning(
                "No task_state_store (Airflow < 3.3): a retry of this task submits a new generation. "
                "Upgrade to Airflow 3.3 to reattach instead, or set retries=0 to never pay twice"
            )
        return store

    def submit(
        self, context: Context, submissions: Sequence[Submission], options: SubmitOptions
    ) -> tuple[list[ItemOutcome], frozenset[int]]:
        """Every submission's outcome through the one submission path (see ``operators.submitter``), and the
        indexes of those the vendor will call back."""
        store = self.state_store(context)
        hook = self.get_hook()
        try:
            # The connection first: a missing connection or token fails here, before anything is
            # recorded, so fixing it and clearing the task gives a clean try.
            self.check_connection(hook)
            asks = self.callbacks and (self.deferrable or not self.wait_for_completion)  # nothing resumes it inline
            submissions, called_back = with_callbacks(
                submissions, hook, context, vendor=self.vendor, timeout=self.timeout, enabled=asks
            )
            submitter = Submitter(hook, store, log=self.log, clears=clears_seen(context), options=options)
            return submitter.run(submissions), called_back
        except SubmissionStopped as stopped:
            raise self.stopped(stopped) from None
        finally:
            hook.close()

    def submit_options(self) -> SubmitOptions:
        """How the submitter treats this operator's submissions (batches ride out 429s: see there)."""
        return SubmitOptions()

    def stopped(self, stopped: SubmissionStopped) -> AirflowException:
        """The task's error for an API error that stopped the submissions (the message says it all)."""
        return (AirflowException if stopped.error.retryable else AirflowFailException)(str(stopped.error))

    def slot(self, service: str, index: int, outcome: ItemOutcome) -> TaskResult:
        """An item's result as far as submitting it goes: its task's known state, or why it has none (an
        item the API refused, held or kept within the budget fails alone; the others go on)."""
        if isinstance(outcome, Accepted):
            return outcome.result or TaskResult(outcome.task_id, service, self.vendor.name, "pending")
        if isinstance(outcome, OverBudget):
            return without_task(self.vendor, service, BUDGET_REACHED, f"not submitted: {outcome.reason}")
        if isinstance(outcome, Held):
            if outcome.error is not None:  # sent by this try, answer unknown
                self.log.warning("Item %d: %s", index, outcome.message)
            return without_task(self.vendor, service, "ambiguous_submission", outcome.message)
        error = outcome.error
        self.log.warning("Item %d was refused by the API (nothing created): %s", index, error)
        return without_task(self.vendor, service, error.code or f"http_{error.status}", str(error))

    def wait(self, context: Context, service: str, task_ids: list[str], *, called_back: bool = False) -> Any:
        """Defer to the trigger with every id (or wait for it inline), then ``execute_complete``. When every
        id will be called back, the trigger only keeps the slow safety poll: the receiver resumes the task."""
        from airflow_provider_vidgen.triggers.video import Wait, wait_inline

        wait = Wait(
            conn_id=self.conn_id, service=service, task_ids=task_ids, poll_interval=self.poll_interval,
            safety_poll_interval=self.safety_poll_interval, called_back=called_back, timeout=self.timeout,
            max_poll_failures=self.max_poll_failures, unknown_grace=UNKNOWN_GRACE_SECONDS,
        )  # fmt: skip
        trigger = wait.trigger(shared_polling=self.deferrable)
        if self.deferrable:
            self.defer(trigger=trigger, method_name="execute_complete", timeout=wait.backstop)
        return self.execute_complete(context, wait_inline(trigger))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        # All it needs is in the event and the XCom pushed before the wait (dag.test() drops defer(kwargs=...)).
        from airflow_provider_vidgen.triggers.event import received  # the triggers load when a task runs

        wait = received(event)
        if not wait.succeeded:
            raise AirflowException(f"{wait.status}: {wait.message} [{states_at_the_end(wait.results)}]")
        bodies = self.request_bodies()
        return self.finish(context, self.read_results(context, wait, len(bodies)), bodies)

    def read_results(self, context: Context, wait: WaitEvent, items: int) -> list[TaskResult]:
        """Every item's result in input order. When every item was submitted, the event's order is the input's;
        else the items without a vendor task go back in their places, with the reason ``execute`` pushed."""
        if len(wait.results) == items:
            return list(wait.results)
        ti = context["ti"]
        ids = ti.xcom_pull(task_ids=self.task_id, key=xcom.VENDOR_TASK_ID, map_indexes=ti.map_index)
        if not isinstance(ids, list) or len(ids) != items:
            return list(wait.results)
        unsubmitted = ti.xcom_pull(task_ids=self.task_id, key=xcom.UNSUBMITTED, map_indexes=ti.map_index) or {}
        results = {result.task_id: result for result in wait.results}
        ordered = []
        for index, task_id in enumerate(ids):
            if task_id and task_id in results:
                ordered.append(results[task_id])
            else:
                error = unsubmitted.get(str(index)) or {"code": "not_submitted", "message": "no vendor task id"}
                ordered.append(without_task(self.vendor, wait.service, error["code"], error["message"]))
        return ordered

    def finish(self, context: Context, ordered: list[TaskResult], bodies: Sequence[Mapping[str, Any]]) -> Any:
        """The end of the task, waited for or not: every result in its XCom form and the Video link, then the
        operator's policy (``conclude``) says what the task returns, or why it fails."""
        returned = [self.returned(index, result, bodies[index]) for index, result in enumerate(ordered)]
        if not self.wait_for_completion and self.submitted is not None:
            for index in self.submitted.called_back:
                if not ordered[index].terminal:
                    returned[index][CALLED_BACK] = True
        push_video_url(context, [result for result in ordered if result.state == "succeeded"])
        self.completed = returned  # for the lineage of the task
        return self.conclude(context, ordered, returned)

    def returned(self, index: int, result: TaskResult, body: Mapping[str, Any]) -> dict[str, Any]:
        """An item's XCom form: its index in the whole run, its result, its prompt (for the download's gallery)."""
        data = {"index": self.item_offset + index, **result.to_dict()}
        prompt = request_prompt(body)
        if prompt:
            data["prompt"] = prompt
        return data

    def conclude(self, context: Context, ordered: list[TaskResult], returned: list[dict[str, Any]]) -> Any:
        """What the task returns for these results (in input order), or the exception that fails it."""
        raise NotImplementedError

    def unwrap(self, items: list[Any]) -> Any:
        """The XCom form of per-item values (ids, results): the list itself; a single operator's is its one item."""
        return items

    def on_kill(self) -> None:
        """Best effort, idempotent: the vendor APIs have no cancel call, so say what keeps running (and is billed).

        Airflow calls this for a task killed while running on a worker (blocking wait); a deferred
        task is covered by the trigger's ``on_kill``.
        """
        if self.submitted is None or not self.submitted.waiting:
            self.log.info("Killed before any %s submission: nothing keeps running", self.vendor.label)
        else:
            self.log.warning("%s", self.submitted.left_running(self.vendor.label))

    # ------------------------------------------------------------------ OpenLineage

    def request_bodies(self) -> list[dict[str, Any]]:
        """The request body of every item, in input order (raises InvalidInputError)."""
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the media URLs the requests name; outputs: the generated videos' URLs (``lineage``). The
        listener calls this in a forked process, in which this instance still holds what the task returned."""
        from airflow_provider_vidgen import lineage

        inputs = [lineage.url_dataset(url) for body in self.request_bodies() for url in lineage.urls_in(body)]
        outputs = map(lineage.url_dataset, lineage.video_urls(self.completed))
        return lineage.operator_lineage(inputs, outputs)


def without_task(vendor: Vendor, service: str, code: str, message: str) -> TaskResult:
    """The result of an item that has no vendor task: failed, with why."""
    return TaskResult("", service, vendor.name, "failed", error=TaskError(code, message))


def with_callbacks(
    submissions: Sequence[Submission], hook: VideoApiHook, context: Context, *, vendor: Vendor, timeout: float,
    enabled: bool,
) -> tuple[list[Submission], frozenset[int]]:  # fmt: skip
    """Each submission with its own callback URL, when ``enabled`` and the connection has a ``callback_base_url``:
    a ticket of its task instance and item (``core.tickets``); and the indexes of those given one. A body that
    names its own callback URL keeps it."""
    base, key = hook.settings.callback_base_url, hook.callback_key
    if not (enabled and base and key and vendor.callback_field):
        return list(submissions), frozenset()
    from airflow_provider_vidgen.core.tickets import Ticket, callback_url, ticket_expiry

    ti, out, called_back = context["ti"], [], set()
    for index, submission in enumerate(submissions):
        if submission.calls_back:
            out.append(submission)
            continue
        ticket = Ticket(
            vendor.name, submission.service, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, index,
            conn_id=hook.conn_id, expires=ticket_expiry(timeout),
        )  # fmt: skip
        out.append(submission.with_callback(callback_url(base, hook.conn_id, key, ticket)))
        called_back.add(index)
    return out, frozenset(called_back)


def states_at_the_end(results: Sequence[TaskResult]) -> str:
    """How a wait that did not end well left its items: one item's state (its vendor task id named), or a
    batch's counts (the event's message names the ids that still run)."""
    if len(results) == 1:
        return results[0].describe()
    return progress_line(count(results, len(results)), "at the end of the wait")


class BaseVideoOperator(BaseGenerationOperator):
    """Submit one video generation and (optionally) wait for it: a batch of one (see
    :class:`BaseGenerationOperator`) whose one item must succeed, and whose XCom is that item itself."""

    service_fields: ClassVar[Sequence[str]] = ()  # named parameters that are request fields
    # Fields always sent with their value from the service's row (e.g. Hailuo's ``action``).
    sent_defaults: ClassVar[Sequence[str]] = ()

    def request_body(self) -> dict[str, Any]:
        spec_defaults = self.vendor.services[self.service_name()].defaults if self.sent_defaults else {}
        body = {name: spec_defaults[name] for name in self.sent_defaults}
        body.update({name: getattr(self, name) for name in self.service_fields})
        return {key: value for key, value in body.items() if value is not None}

    def request_bodies(self) -> list[dict[str, Any]]:
        return [self.request_body()]

    def check_literal_body(self) -> None:
        if is_literal(self.service_name()):
            self.check_literal(self.service_name(), self.request_body())

    def slot(self, service: str, index: int, outcome: ItemOutcome) -> TaskResult:
        """Stricter than a batch: a submission in doubt, or one the API refused, fails the task."""
        if isinstance(outcome, Held):
            if outcome.lookup_failed:  # nothing was sent; a retry looks the submission up again
                raise AirflowException(outcome.message)
            suffix = " Task not retried to avoid a duplicate charge." if outcome.error is not None else ""
            raise AirflowFailException(f"{outcome.error or outcome.message}{suffix}")
        if isinstance(outcome, Refused):  # nothing was created
            raise AirflowFailException(str(outcome.error))
        return super().slot(service, index, outcome)

    def conclude(self, context: Context, ordered: list[TaskResult], returned: list[dict[str, Any]]) -> dict[str, Any]:
        (result,), data = ordered, self.unwrap(returned)
        if result.state == "failed":
            # Kept in XCom (key "failure") so a downstream all_done task can report it.
            ti = context["ti"]  # its map index tells the download which task instance this failure explains
            ti.xcom_push(key=xcom.FAILURE, value={**data, "map_index": ti.map_index})
            raise AirflowException(f"Generation failed: {result.describe()}")
        self.log.info("%s", result.describe())
        return data

    def unwrap(self, items: list[Any]) -> Any:
        (item,) = items
        return {key: value for key, value in item.items() if key != "index"} if isinstance(item, dict) else item
