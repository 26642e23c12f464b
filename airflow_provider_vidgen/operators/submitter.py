"""The one submission path: N prepared submissions, each paid for at most once across every try.

For each item, in this order: reattach to what an earlier try recorded (unless that generation
failed); find on the vendor side what an earlier try sent but never recorded; submit the rest, paced
to the connection's rate and overlapping so the API's latency does not cap it; record each item in
the ledger as it goes. Single operators are a batch of one; what an outcome means for the task
(fail it, or keep going) is the operator's to decide.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_vidgen.core.batch import MAX_SUBMISSIONS_IN_FLIGHT, count, submissions_in_flight
from airflow_provider_vidgen.core.budget import Budget
from airflow_provider_vidgen.core.errors import AmbiguousSubmissionError, ApiError, InvalidInputError
from airflow_provider_vidgen.core.ledger import ItemRecord, SubmissionLedger, Unreadable, acknowledged
from airflow_provider_vidgen.core.results import TaskResult, request_prompt, total_usage
from airflow_provider_vidgen.core.submission import check_seconds

if TYPE_CHECKING:
    from airflow_provider_vidgen.core.ledger import StateStore
    from airflow_provider_vidgen.core.submission import Submission
    from airflow_provider_vidgen.hooks.base import VideoApiHook

# Clock difference tolerated between this worker and the vendor when a lost submission is looked up.
LOOKUP_SLACK_SECONDS = 120.0
# Vendor answers that refuse one item's request (nothing created): that item fails, the batch goes on.
ITEM_REFUSED_STATUSES = frozenset({400, 413, 422})
SUBMIT_LOG_SECONDS = 10.0  # a submission progress line at least this often


@dataclass(frozen=True)
class SubmitOptions:
    """How the submitter treats an operator's submissions; checked when made (InvalidInputError naming the
    field: each is the operator parameter of that name, or made from them)."""

    ride_out_throttles: bool = False  # 429s slow the submissions down (the token's pace adapts), never stop them
    submit_timeout: float | None = None  # seconds after which this try stops submitting (None: no deadline)
    budget: Budget | None = None  # the task's spend cap over all its tries (None: no limit)

    def __post_init__(self) -> None:
        if not isinstance(self.ride_out_throttles, bool):
            raise InvalidInputError("ride_out_throttles", f"must be True or False, got {self.ride_out_throttles!r}")
        if self.submit_timeout is not None:
            check_seconds("submit_timeout", self.submit_timeout)
        if self.budget is not None and not isinstance(self.budget, Budget):
            raise InvalidInputError("budget", f"must be a Budget (max_submissions / max_usage), got {self.budget!r}")


@dataclass(frozen=True)
class Accepted:
    """The item has a vendor task: submitted now, or an earlier try's (``result``: its state then)."""

    task_id: str
    result: TaskResult | None = None


@dataclass(frozen=True)
class Refused:
    """The API refused the item's request (HTTP 400/413/422): nothing was created."""

    error: ApiError


@dataclass(frozen=True)
class Held:
    """The item may have created a paid task: it is never resent automatically (clearing the task is
    the user's "there was none, submit it again")."""

    message: str
    error: ApiError | None = None  # the submission's own error, when this try sent it
    # The vendor could not be asked this time (its lookup failed): a retry of the task looks again.
    lookup_failed: bool = False


@dataclass(frozen=True)
class OverBudget:
    """The task's budget (``core.budget``) was reached before this item: it was not submitted."""

    reason: str


ItemOutcome = Accepted | Refused | Held | OverBudget  # what became of one item (not transport.Outcome, an HTTP answer)


class SubmissionStopped(Exception):
    """An error no item can get past (a bad token, a used-up balance, an outage): nothing more was handed out.

    ``outcomes`` holds what was settled before it (accepted ids are recorded). Of the other items,
    ``refused`` were answered with an error (sent, nothing created), ``in_doubt`` failed without an answer
    that proves nothing was created (their intent stays: the next try looks them up), and the rest were
    never sent. Refused and never-sent items have no record, so the next try submits them."""

    def __init__(
        self, error: ApiError, outcomes: Mapping[int, ItemOutcome], total: int, refused: int = 0, in_doubt: int = 0
    ) -> None:
        super().__init__(str(error))
        self.error, self.outcomes, self.total = error, dict(outcomes), total
        self.refused, self.in_doubt = refused, in_doubt

    @property
    def recorded(self) -> int:
        return sum(isinstance(outcome, Accepted) for outcome in self.outcomes.values())

    @property
    def never_sent(self) -> int:
        return self.total - len(self.outcomes) - self.refused - self.in_doubt


def after_submission_answer(task_id: str) -> None:
    """An extension point for tests, and nothing else: called with each vendor task id between the vendor's
    answer and the moment the id is recorded (the crash window). Does nothing; the crash-window tests put
    a process death here (tests/crash_hold.py) to prove that a retry finds the task and pays once."""


class Submitter:
    """Submits prepared generations through ``hook``, recording each in ``store`` (None: no ledger,
    Airflow < 3.3 or ``reattach=False``), as ``options`` say. ``clears`` is how often the task was cleared
    (see :func:`~airflow_provider_vidgen.operators.base.clears_seen`)."""

    def __init__(
        self,
        hook: VideoApiHook,
        store: StateStore | None,
        *,
        log: logging.Logger | Any,
        clears: int | None = None,
        options: SubmitOptions | None = None,
    ) -> None:
        options = options or SubmitOptions()
        # A batch rides out 429s (its pace adapts; they never stop it) and stops sending at its submit_timeout.
        retry = replace(hook.retry, count_throttles=False) if options.ride_out_throttles else hook.retry
        timeout = options.submit_timeout
        self.hook = hook.with_policy(retry=retry, deadline=None if timeout is None else time.monotonic() + timeout)
        self.store = store
        self.log = log
        self.clears = clears
        self.label = hook.vendor.label
        self.ledger: SubmissionLedger | None = None
        self.single = False
        self.budget = options.budget
        self.counted: set[int] = set()  # items that were submitted, by any try (the budget's item count)
        self.reported: dict[str, TaskResult] = {}  # final results of this task's items, by vendor task id

    def run(self, submissions: Sequence[Submission]) -> list[ItemOutcome]:
        """Every item's outcome, in input order. Raises SubmissionStopped."""
        self.hook.watch_balance()  # a used-up balance reported on the token from now on stops this try
        if self.store is not None:
            self.ledger = SubmissionLedger(self.store, [s.fingerprint(self.hook.conn_id) for s in submissions])
        outcomes = self.reattach(submissions)
        todo = [index for index in range(len(submissions)) if index not in outcomes]
        if todo:
            self.submit(submissions, todo, outcomes)
        return [outcomes[index] for index in range(len(submissions))]

    # ------------------------------------------------------------------ what earlier tries left

    def reattach(self, submissions: Sequence[Submission]) -> dict[int, ItemOutcome]:
        """What earlier tries of this task left: every item's recorded task (unless it failed), and the
        items whose fate is in doubt."""
        if self.ledger is None:
            return {}
        records = self.ledger.read_all()
        recorded: dict[int, str] = {}
        outcomes: dict[int, ItemOutcome] = {}
        lost: dict[int, ItemRecord] = {}
        self.counted = {index for index, record in records.items() if isinstance(record, ItemRecord)}
        for index, record in records.items():
            if isinstance(record, Unreadable):
                why = f"its record could not be read ({record.raw!r})"
                outcomes[index] = self._hold(index, submissions[index], why)
            elif record.state == "accepted" and record.task_id:
                recorded[index] = record.task_id
            elif record.state == "ambiguous" and not acknowledged(record, self.clears):
                outcomes[index] = Held(record.message or "an earlier try's submission may have created a task")
            elif record.state == "intended":
                lost[index] = record
        cleared = [
            i for i, r in records.items() if isinstance(r, ItemRecord) and r.state == "ambiguous" and i not in outcomes
        ]
        if cleared:
            self.log.warning(
                "%d ambiguous item(s) reported by an earlier try are submitted again: this task was cleared since",
                len(cleared),
            )
        if lost:
            lookup = LostLookup(self.hook, self.ledger, self.log, self.clears)
            for index, found in lookup.resolve(submissions, lost, set(recorded.values())).items():
                if isinstance(found, Held):
                    outcomes[index] = found
                elif found is not None:
                    recorded[index] = found
                    self.ledger.accept(index, submissions[index].service, found)
        return {**outcomes, **self._still_good(submissions, recorded)}

    def _still_good(self, submissions: Sequence[Submission], recorded: dict[int, str]) -> dict[int, ItemOutcome]:
        """The recorded tasks that did not fail (a failed one is the one case an item is submitted again)."""
        if not recorded:
            return {}
        service = submissions[0].service
        try:
            found = self.hook.retrieve_many(service, list(recorded.values()))
        except ApiError as err:  # the recorded items stay accepted: the next try reads them again
            accepted: dict[int, ItemOutcome] = {index: Accepted(task_id) for index, task_id in recorded.items()}
            raise SubmissionStopped(err, accepted, len(submissions)) from None
        self.note_reported(found)
        good = {
            index: Accepted(task_id, found[task_id])
            for index, task_id in recorded.items()
            if found[task_id].state != "failed"
        }
        failed = [found[task_id] for i, task_id in recorded.items() if i not in good]
        if len(submissions) == 1:
            for result in failed:
                self.log.info("Earlier try's generation failed (%s); submitting a new one", result.describe())
            for outcome in good.values():
                state = outcome.result.state if outcome.result else "pending"
                self.log.info("Reattaching to %s instead of submitting again (%s)", outcome.task_id, state)
        else:
            states = count((outcome.result for outcome in good.values()), len(good))
            self.log.info(
                "Reattaching to %d earlier submission(s) instead of submitting again (%d succeeded, %d running); "
                "%d failed earlier and are submitted again",
                len(good),
                states.succeeded,
                states.running,
                len(failed),
            )
        return dict(good)

    def _hold(self, index: int, submission: Submission, why: str) -> Held:
        message = f"{why}; the item may have created a paid task, so it is not resent"
        if self.ledger is not None:
            self.ledger.hold_ambiguous(index, submission.service, message, self.clears)
        return Held(message)

    # ------------------------------------------------------------------ submitting

    def submit(self, submissions: Sequence[Submission], todo: list[int], outcomes: dict[int, ItemOutcome]) -> None:
        """Submit the ``todo`` items, paced and overlapping; each outcome lands in ``outcomes``.

        Submissions overlap so that the API's latency does not cap the rate (one at a time, a 0.5 s
        answer would allow 2/s); the pacer alone sets the rate, and every request (resends included)
        takes a slot. Records are written here, in the calling thread: an item's intent just before it
        is handed out, its vendor id as soon as it is back.
        """
        gate, spec = self.hook.request_gate(), submissions[0].spec
        rate, limit = gate.submit_rate(spec), gate.in_flight_limit(spec)
        self.single = len(submissions) == 1
        if self.ledger is not None:
            self.ledger.begin()
        if len(submissions) > 1:
            self.log.info(
                "Submitting %d of %d %s %s item(s), at most %g submission(s)/s and %s request(s) open at once on "
                "the token (connection %r extras submit_rates, max_requests_per_second, max_in_flight)",
                len(todo), len(submissions), self.label, spec.name, rate, limit or "any", self.hook.conn_id,
            )  # fmt: skip
        self.hook.get_conn()  # one client, made before the submitting threads share it
        if self.budget is not None and self.budget.watches_usage:
            in_flight = 1  # a usage budget needs each answer's usage before the next item
        else:  # threads enough for the rate and the category's limit; the leases decide how many are open
            in_flight = min(submissions_in_flight(rate), limit or MAX_SUBMISSIONS_IN_FLIGHT)
        progress = _Progress(self.log, len(todo) if len(submissions) > 1 else 0, gate)
        waiting = iter(todo)
        pending: dict[Future[str], int] = {}
        stop: ApiError | None = None
        refused = in_doubt = 0  # items settled by an error that stops the rest (see SubmissionStopped)
        pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="vidgen-submit")

        def hand_out() -> None:
            while stop is None and len(pending) < in_flight and (index := next(waiting, None)) is not None:
                reason = self.over_budget(index, submissions, outcomes)
                if reason is not None:
                    left = [index, *waiting]
                    outcomes.update({item: OverBudget(reason) for item in left})
                    self.log.warning("Budget: %s; %d item(s) not submitted", reason, len(left))
                    return
                self.counted.add(index)
                if self.ledger is not None:  # a try that dies before recording the id finds it again by it
                    self.ledger.intend(index, submissions[index].service)
                future = pool.submit(self.hook.send_submission, submissions[index])
                pending[future] = index

        try:
            hand_out()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    error = self.settle(index, submissions[index], future, outcomes)
                    if error is not None:
                        refused += error.status is not None
                        in_doubt += error.status is None and not error.nothing_created
                    stop = first_answer(stop, error)
                    progress.one_done()
                hand_out()
        except BaseException:
            # Killed or failed while submissions were under way: record what was accepted, so a retry
            # reattaches instead of paying again (what is lost here, the retry looks up).
            pool.shutdown(wait=True, cancel_futures=True)
            self.record_on_the_way_out(submissions, pending, outcomes)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if stop is not None:
            raise SubmissionStopped(stop, outcomes, len(submissions), refused, in_doubt)

    def over_budget(
        self, index: int, submissions: Sequence[Submission], outcomes: Mapping[int, ItemOutcome]
    ) -> str | None:
        """Why ``index`` may not be submitted under the task's budget (None: it may). With a usage limit,
        first reads the records of this task's submitted items that have not reported yet (one request)."""
        if self.budget is None:
            return None
        if self.budget.watches_usage:
            unread = [
                outcome.task_id
                for outcome in outcomes.values()
                if isinstance(outcome, Accepted) and outcome.task_id not in self.reported
            ]
            if unread:
                try:
                    found = self.hook.retrieve_many(submissions[index].service, unread)
                except ApiError as err:  # the budget cannot be checked: stop; a retry reattaches and goes on
                    raise SubmissionStopped(err, outcomes, len(submissions)) from None
                self.note_reported(found)
        others = len(self.counted) - (index in self.counted)  # an item submitted again counts once
        return self.budget.reached(others, total_usage(self.reported.values()))

    def note_reported(self, found: Mapping[str, TaskResult]) -> None:
        """Keep the final results among ``found``: their usage is what a usage budget counts."""
        self.reported.update({task_id: result for task_id, result in found.items() if result.terminal})

    def settle(
        self, index: int, submission: Submission, future: Future[str], outcomes: dict[int, ItemOutcome]
    ) -> ApiError | None:
        """Record one finished submission; returns the error that must stop the others, if any."""
        ledger = self.ledger
        try:
            task_id = future.result()
        except AmbiguousSubmissionError as err:
            # Never resent automatically: it may have created a paid task. The intent stays (reported),
            # so the next try looks it up first, and clearing the task says "there was none".
            message = f"{err} Not resent automatically: the next try looks it up first where the API can list tasks."
            if ledger is not None:
                ledger.report_intended(index, submission.service, self.clears)
            outcomes[index] = Held(message, err)
            return None
        except ApiError as err:
            if ledger is not None and (err.nothing_created or err.status is not None):
                ledger.forget(index)  # the API answered with an error: nothing was created, nothing to find
            if not err.retryable and err.nothing_created and err.status in ITEM_REFUSED_STATUSES:
                outcomes[index] = Refused(err)
                return None
            return err
        after_submission_answer(task_id)
        if ledger is not None:
            ledger.accept(index, submission.service, task_id)
        outcomes[index] = Accepted(task_id)
        if self.single:
            self.log.info("Submitted %s %s task %s", self.label, submission.service, task_id)
        return None

    def record_on_the_way_out(
        self, submissions: Sequence[Submission], futures: Mapping[Future[str], int], outcomes: dict[int, ItemOutcome]
    ) -> None:
        """Best effort: record every accepted submission not recorded yet, and drop the intent of every one
        that was never sent (cancelled before it started), so no retry looks it up."""
        for future, index in futures.items():
            if index in outcomes or not future.done():
                continue
            try:
                if future.cancelled():
                    if self.ledger is not None:
                        self.ledger.forget(index)
                elif future.exception() is None:
                    outcomes[index] = Accepted(future.result())
                    if self.ledger is not None:
                        self.ledger.accept(index, submissions[index].service, future.result())
            except Exception:  # the original error is what the log must show
                self.log.warning("Could not update the record of item %d on the way out", index)


def first_answer(stop: ApiError | None, error: ApiError | None) -> ApiError | None:
    """The error that stops a try: the first one the API answered, rather than this process's own "not
    sent" (which only follows an answer: a used-up balance, a passed deadline)."""
    if stop is None or (stop.status is None and error is not None and error.status is not None):
        return error or stop
    return stop


class LostLookup:
    """Finds, on the vendor side, the submissions an earlier try sent but never recorded (the crash window)."""

    def __init__(self, hook: VideoApiHook, ledger: SubmissionLedger, log: Any, clears: int | None) -> None:
        self.hook, self.ledger, self.log, self.clears = hook, ledger, log, clears

    def resolve(
        self, submissions: Sequence[Submission], lost: dict[int, ItemRecord], known: set[str]
    ) -> dict[int, str | Held | None]:
        """Items an earlier try sent and died before recording: their task id when found on the vendor side
        by their request, None when provably never created (or cleared by the user since), else Held. When
        the lookup cannot answer, only these items are held (the others of the batch go ahead), each with
        its time window; a retry looks again, a clear submits them again."""
        service = submissions[0].service
        sent_at = [record.intent_at or 0.0 for record in lost.values()]
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(min(sent_at)))
        label = self.hook.vendor.label
        what = (
            f"an earlier try of this task sent a {label} {service} submission at {when} and stopped before it "
            "recorded the vendor task id"
        )
        problems: dict[int, str] = {}
        found: dict[int, str | Held | None] = {}
        failed_lookup = False
        if not self.hook.vendor.finds_submissions:
            problems = dict.fromkeys(lost, f"{what}, and {label} cannot list tasks by time")
        else:
            try:
                found, problems = self._search(submissions, lost, known, what, (min(sent_at), max(sent_at)))
            except ApiError as err:
                failed_lookup = True
                problems = dict.fromkeys(lost, f"{what}; looking it up failed: {err}")
        for index, problem in problems.items():
            if acknowledged(lost[index], self.clears):
                self.log.warning("%s. This task was cleared after that was reported, so it submits again.", problem)
                found[index] = None
            else:
                advice = self._advice(submissions[index], lost[index])
                found[index] = Held(f"{problem}. {advice}", lookup_failed=failed_lookup)
                self.ledger.report_intended(index, submissions[index].service, self.clears)
        self._log_lost(what, found)
        return found

    def _advice(self, submission: Submission, record: ItemRecord) -> str:
        """What to look for in the vendor's console: the service, the time window and the prompt."""
        start = record.intent_at or 0.0
        end = start + self.hook.settings.timeout * self.hook.retry.max_attempts + 60
        stamp = "%Y-%m-%d %H:%M:%S"
        window = f"{time.strftime(stamp, time.gmtime(start))} and {time.strftime(stamp, time.gmtime(end))} UTC"
        prompt = request_prompt(submission.body)
        request = f" with the prompt {prompt[:80]!r}" if prompt else ""
        return (
            f"Look in the {self.hook.vendor.label} console for a {submission.service} task created between "
            f"{window}{request}: if there is one, wait for its id with VideoTaskSensor; if there is none, clear "
            "this task: the cleared task submits it again. Not resent automatically, to avoid a duplicate charge."
        )

    def _search(
        self,
        submissions: Sequence[Submission],
        lost: dict[int, ItemRecord],
        known: set[str],
        what: str,
        sent: tuple[float, float],
    ) -> tuple[dict[int, str | Held | None], dict[int, str]]:
        """One creation-time search for every lost item; equal bodies are looked up once and share what
        is found. Returns (the settled items, the items whose lookup was not conclusive)."""
        groups: dict[str, list[int]] = {}
        for index in sorted(lost):
            groups.setdefault(json.dumps(submissions[index].body, sort_keys=True, default=str), []).append(index)
        settings = self.hook.settings
        window = (sent[0] - LOOKUP_SLACK_SECONDS, sent[1] + settings.timeout * self.hook.retry.max_attempts + 60)
        searches = self.hook.find_submissions([submissions[group[0]] for group in groups.values()], window)
        found: dict[int, str | Held | None] = {}
        problems: dict[int, str] = {}
        for group, search in zip(groups.values(), searches, strict=True):
            candidates = [task_id for task_id in search.matches if task_id not in known]
            if not search.unreadable and not candidates:
                found.update(dict.fromkeys(group))
            elif not search.unreadable and len(candidates) == len(group):
                found.update(zip(group, candidates, strict=True))
            else:
                problems.update(
                    dict.fromkeys(
                        group,
                        f"{what}; the lookup is not conclusive ({len(candidates)} task(s) with this request: "
                        f"{', '.join(candidates) or '-'}; {search.unreadable} without a readable request)",
                    )
                )
        return found, problems

    def _log_lost(self, what: str, found: dict[int, str | Held | None]) -> None:
        if len(found) == 1:
            (outcome,) = found.values()
            if isinstance(outcome, str):
                self.log.warning("%s; found it on the vendor side by its request: %s", what.capitalize(), outcome)
            elif outcome is None:
                self.log.warning("%s; no task with this request was created then, so it is submitted now", what)
            return
        settled = sum(isinstance(value, str) for value in found.values())
        resent = sum(value is None for value in found.values())
        self.log.warning(
            "%d item(s) were sent by an earlier try that stopped before recording them: %d found on the vendor "
            "side by their request, %d provably not created (submitted now), %d not conclusive (not resent)",
            len(found),
            settled,
            resent,
            len(found) - settled - resent,
        )


class _Progress:
    """A submission progress line at least every SUBMIT_LOG_SECONDS, and at the end (batches only)."""

    def __init__(self, log: Any, total: int, gate: Any) -> None:
        self.log, self.total, self.gate = log, total, gate
        self.done = 0
        self.started = self.last = time.monotonic()

    def one_done(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.total and (now - self.last >= SUBMIT_LOG_SECONDS or self.done == self.total):
            waited = self.gate.waited
            self.log.info(
                "Submitted %d/%d (%.0fs, %.1fs spent waiting for the token's limits)",
                self.done, self.total, now - self.started, waited,
            )  # fmt: skip
            self.last = now
