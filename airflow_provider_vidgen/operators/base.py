"""What every generation operator does: validate once, submit once (or reattach), wait, return results.

Single and batch operators share this floor: the parameters, the parse-time checks, the one
submission path (``operators.submitter``) and the one wait (the trigger). A single operator is a
batch of one; each keeps only its parameters and what its results mean.

Kept cheap to import: hooks (httpx) and the trigger are imported inside ``execute``, so a DAG file
that only declares operators does not pay for them at parse time.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from airflow.sdk import BaseOperator

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.submission import Submission, check_literal_fields, is_literal, prepare
from airflow_provider_vidgen.links import TaskVideosLink, VideoLink, push_video_url

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.definitions.mappedoperator import OperatorPartial

    from airflow_provider_vidgen.core.vendor import Vendor
    from airflow_provider_vidgen.hooks.base import VideoApiHook
    from airflow_provider_vidgen.operators.submitter import ItemOutcome, SubmissionStopped


# How long after its own submission an id may have an empty record (HiDream: sub-tasks appear a little
# after submission) before it is reported not found.
UNKNOWN_GRACE_SECONDS = 600.0

# In a pending result's XCom: the vendor will call this task back, so a sensor waiting on it only needs
# the slow safety poll (VideoTaskSensor).
CALLED_BACK = "callback"


def check_seconds(name: str, value: Any, *, literal_only: bool = False) -> None:
    if literal_only and not is_literal(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidInputError(name, f"must be a positive number of seconds, got {value!r}")


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
        self._called_back: set[int] = set()  # indexes of this try's submissions that carry a callback URL
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

    # ------------------------------------------------------------------ submit and wait

    def state_store(self, context: Context) -> Any:
        """Airflow's task_state_store (shared by every try), or None without reattach or before 3.3."""
        store = context.get("task_state_store") if self.reattach else None
        if self.reattach and store is None:
            self.log.warning(
                "No task_state_store (Airflow < 3.3): a retry of this task submits a new generation. "
                "Upgrade to Airflow 3.3 to reattach instead, or set retries=0 to never pay twice"
            )
        return store

    def submit(self, context: Context, submissions: Sequence[Submission]) -> list[ItemOutcome]:
        """Every submission's outcome through the one submission path (see ``operators.submitter``)."""
        from airflow_provider_vidgen.operators.submitter import SubmissionStopped, Submitter

        store = self.state_store(context)
        hook = self.get_hook()
        try:
            # The connection first: a missing connection or token fails here, before anything is
            # recorded, so fixing it and clearing the task gives a clean try.
            self.check_connection(hook)
            submissions = self.with_callbacks(context, hook, submissions)
            submitter = Submitter(hook, store, log=self.log, clears=clears_seen(context), **self.submit_options())
            return submitter.run(submissions)
        except SubmissionStopped as stopped:
            raise self.stopped(stopped) from None
        finally:
            hook.close()

    def with_callbacks(
        self, context: Context, hook: VideoApiHook, submissions: Sequence[Submission]
    ) -> list[Submission]:
        """Each submission with its own callback URL, when the connection has a ``callback_base_url``: a ticket
        of its task instance and item (``core.tickets``). A body that names its own callback URL keeps it."""
        base, key = hook.settings.callback_base_url, hook.callback_key
        self._called_back = set()
        if not (self.callbacks and base and key and self.vendor.callback_field):
            return list(submissions)
        from airflow_provider_vidgen.core.tickets import Ticket, callback_url, ticket_expiry

        ti, out = context["ti"], []
        for index, submission in enumerate(submissions):
            if submission.calls_back:
                out.append(submission)
                continue
            ticket = Ticket(
                self.vendor.name, submission.service, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, index,
                conn_id=hook.conn_id, expires=ticket_expiry(self.timeout),
            )  # fmt: skip
            out.append(submission.with_callback(callback_url(base, hook.conn_id, key, ticket)))
            self._called_back.add(index)
        return out

    def submit_options(self) -> dict[str, Any]:
        """How the submitter treats this operator's submissions (batches ride out 429s: see there)."""
        return {}

    def stopped(self, stopped: SubmissionStopped) -> AirflowException:
        """The task's error for an API error that stopped the submissions (the message says it all)."""
        return (AirflowException if stopped.error.retryable else AirflowFailException)(str(stopped.error))

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
        raise NotImplementedError

    def on_kill(self) -> None:
        """Best effort, idempotent: the vendor APIs have no cancel call, so say what keeps running (and is billed).

        Airflow calls this for a task killed while running on a worker (blocking wait); a deferred
        task is covered by the trigger's ``on_kill``.
        """
        submitted = getattr(self, "_submitted", None)
        if not submitted or not submitted[1]:
            self.log.info("Killed before any %s submission: nothing keeps running", self.vendor.label)
            return
        service, ids = submitted
        label = self.vendor.label
        if len(ids) == 1:
            self.log.warning(
                "Killed; %s %s task %s keeps running on the vendor side (the API has no cancel call). "
                "Collect it with VideoTaskSensor(task_ids=[%r], service=%r), or retry this task to reattach to it.",
                label, service, ids[0], ids[0], service,
            )  # fmt: skip
            return
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        self.log.warning(
            "Killed; %d %s %s task(s) keep running on the vendor side (the API has no cancel call): %s. "
            "Retry this task to reattach to them (XCom vendor_task_id lists them all).",
            len(ids), label, service, shown,
        )  # fmt: skip

    # ------------------------------------------------------------------ OpenLineage

    def lineage_bodies(self) -> list[dict[str, Any]]:
        """The request bodies this task sends (for their input URLs)."""
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the media URLs the requests name; outputs: the generated videos' URLs (``lineage``). The
        listener calls this in a forked process, in which this instance still holds what the task returned."""
        from airflow_provider_vidgen import lineage

        inputs = [lineage.url_dataset(url) for body in self.lineage_bodies() for url in lineage.urls_in(body)]
        outputs = map(lineage.url_dataset, lineage.video_urls(self.completed))
        return lineage.operator_lineage(inputs, outputs)


class BaseVideoOperator(BaseGenerationOperator):
    """Submit one video generation and (optionally) wait for it (see :class:`BaseGenerationOperator`)."""

    service_fields: ClassVar[Sequence[str]] = ()  # named parameters that are request fields
    # Fields always sent with their value from the service's row (e.g. Hailuo's ``action``).
    sent_defaults: ClassVar[Sequence[str]] = ()

    def request_body(self) -> dict[str, Any]:
        spec_defaults = self.vendor.services[self.service_name()].defaults if self.sent_defaults else {}
        body = {name: spec_defaults[name] for name in self.sent_defaults}
        body.update({name: getattr(self, name) for name in self.service_fields})
        return {key: value for key, value in body.items() if value is not None}

    def lineage_bodies(self) -> list[dict[str, Any]]:
        return [self.request_body()]

    def check_literal_body(self) -> None:
        if is_literal(self.service_name()):
            self.check_literal(self.service_name(), self.request_body())

    def execute(self, context: Context) -> dict[str, Any]:
        # The worker renders the Video link whenever the task stops (a failure before submitting and a
        # deferral included): an empty value until the video exists keeps it from logging a missing XCom.
        push_video_url(context, [])
        service = self.service_name()
        try:  # validated once, before any request: bad input must cost nothing
            submission = self.prepare(service, self.request_body())
            self.check_timings()
        except InvalidInputError as err:
            raise self.invalid_input(service, err) from None
        from airflow_provider_vidgen.operators.submitter import Accepted, Held

        (outcome,) = self.submit(context, [submission])
        if isinstance(outcome, Held):
            if outcome.lookup_failed:  # nothing was sent; a retry looks the submission up again
                raise AirflowException(outcome.message)
            suffix = " Task not retried to avoid a duplicate charge." if outcome.error is not None else ""
            raise AirflowFailException(f"{outcome.error or outcome.message}{suffix}")
        if not isinstance(outcome, Accepted):  # refused by the API: nothing was created
            raise AirflowFailException(str(outcome.error))
        self._submitted = (service, [outcome.task_id])  # for on_kill
        context["ti"].xcom_push(key=xcom.VENDOR_TASK_ID, value=outcome.task_id)
        earlier = outcome.result
        if earlier is not None and earlier.state == "succeeded":
            push_video_url(context, [earlier])
            self.completed = [self.returned(earlier)]
            return self.completed[0]
        if not self.wait_for_completion:
            pending = self.returned(TaskResult(outcome.task_id, service, self.vendor.name, "pending"))
            return {**pending, CALLED_BACK: True} if self._called_back == {0} else pending
        return self.wait(context, service, [outcome.task_id], called_back=self._called_back == {0})

    def returned(self, result: TaskResult) -> dict[str, Any]:
        """The XCom form of a result, with the request's prompt (for the download's manifest and gallery)."""
        from airflow_provider_vidgen.core.results import request_prompt

        data = result.to_dict()
        prompt = request_prompt(self.request_body())
        if prompt:
            data["prompt"] = prompt
        return data

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # Everything needed is in the event: dag.test() drops defer(kwargs=...) (Airflow 3.3.2).
        from airflow_provider_vidgen.triggers.event import received  # the triggers load when a task runs

        (result,) = received(event).results_or_raise()
        if result.state == "failed":
            # Kept in XCom (key "failure") so a downstream all_done task can report it.
            ti = context["ti"]  # its map index tells the download which task instance this failure explains
            ti.xcom_push(key=xcom.FAILURE, value={**self.returned(result), "map_index": ti.map_index})
            raise AirflowException(f"Generation failed: {result.describe()}")
        self.log.info("%s", result.describe())
        push_video_url(context, [result])
        self.completed = [self.returned(result)]
        return self.completed[0]
