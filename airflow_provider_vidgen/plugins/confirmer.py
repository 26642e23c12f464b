"""The confirmer: resumes the task instances whose every id a callback claimed final, in the background.

One daemon thread per API server process; of all the API servers that share a claims store, one confirms at
a time (the store's lease, renewed at each pass and before each group's requests, taken over when a killed
server's lease expires). A pass:

1. reads the store's pending claims (``plugins.claims``);
2. finds, in a few bulk reads of the metadata DB, what each claim is about: the ticket's own task instance
   must have recorded exactly that vendor task id for the ticket's item (its ``vendor_task_id`` XCom), and a
   deferred task instance of the run (the submitter's own, else a sensor's) must wait on it;
3. for every waiting task instance whose ids are all claimed, confirms them on the vendor's own API: one
   ``retrieve_many`` per connection and service (one ``retrieve_batch`` per ``batch_size`` ids), at the
   token's status pace (the hook's gate: never behind submissions);
4. resumes each one whose ids the API says are all final, with the event its trigger would have fired,
   built from the API's answers only (``Trigger.submit_event``), under the task instance's row lock and
   only if it still waits on the same trigger (its id *and* creation time: SQLite reuses trigger ids).

Claims of a task still submitting stay until it defers, or until they expire. Claims the API does not
confirm final, or that could not be confirmed (the vendor failing), stay and are tried again with backoff;
claims of what nothing waits on any more are dropped. The trigger's slow safety poll covers the rest.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.plugins.claims import (
    Claim,
    ClaimStore,
    claims_for,
    known_claim_stores,
)
from airflow_provider_vidgen.triggers.video import VideoTaskTrigger

log = logging.getLogger(__name__)

CONFIRM_INTERVAL_SECONDS = 1.0  # how often claims recorded by other API servers (or backed off) are looked at
GATHER_SECONDS = 0.05  # after a callback here: how long its burst is gathered before a pass
LEASE_SECONDS = 15.0  # a confirmer killed mid-pass is replaced after this long
# The states of a ticket's own task instance in which it may still record ids and defer: its claims stay.
SUBMITTING = frozenset({"running", "queued", "scheduled", "up_for_retry", "restarting"})

TiKey = tuple[str, str, str, int]  # dag_id, run_id, task_id, map_index


def recorded_id(recorded: Any, item: int) -> str | None:
    """The vendor task id recorded for ``item``: a batch records a list in input order, a single one an id."""
    if isinstance(recorded, list):
        recorded = recorded[item] if 0 <= item < len(recorded) else None
    elif item != 0:
        recorded = None
    return recorded if isinstance(recorded, str) else None


def waiting_trigger(classpath: str, kwargs: Mapping[str, Any]) -> VideoTaskTrigger | None:
    """The provider's trigger from a stored row (None: another trigger, or another version's kwargs)."""
    if classpath != VideoTaskTrigger.classpath():
        return None
    try:
        return VideoTaskTrigger.from_kwargs(kwargs)
    except (TypeError, ValueError):
        return None


@dataclass
class Waiter:
    """A deferred task instance waiting on claimed ids, and the deferral it waits in."""

    ti: TiKey
    trigger_id: int
    created: Any  # the trigger row's created_date: with its id, names one deferral
    trigger: VideoTaskTrigger
    claims: list[Claim] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return set(self.trigger.task_ids) <= {claim.vendor_task_id for claim in self.claims}

    def due(self, now: float) -> bool:
        return any(claim.not_before <= now for claim in self.claims)


@dataclass
class Plan:
    """What a pass does with its claims."""

    waiters: list[Waiter] = field(default_factory=list)
    drop: list[Claim] = field(default_factory=list)


@dataclass
class PassReport:
    """What one pass did (logs, tests, benchmarks)."""

    led: int = 0  # stores whose lease this pass held
    resumed: list[TiKey] = field(default_factory=list)
    unconfirmed: list[TiKey] = field(default_factory=list)  # confirmation failed or not final: retried later
    dropped: int = 0
    status_requests: int = 0  # retrieve_many / retrieve calls made


def plan(session: Any, claims: list[Claim]) -> Plan:
    """Match claims with the task instances that wait on them: three bulk reads, none per claim."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    runs = sorted({claim.run_id for claim in claims})
    dags = {claim.dag_id for claim in claims}
    rows = session.execute(
        select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.trigger_id).where(TI.run_id.in_(runs))
    ).all()
    rows = [row for row in rows if row.dag_id in dags]
    states = {(r.dag_id, r.run_id, r.task_id, r.map_index): str(r.state) if r.state else None for r in rows}
    deferred = [r for r in rows if r.trigger_id is not None and str(r.state) == "deferred"]
    triggers = {
        row.id: (row.created_date, waiting_trigger(row.classpath, row.kwargs))
        for row in session.scalars(select(Trigger).where(Trigger.id.in_({r.trigger_id for r in deferred})))
    }
    owners = {claim.owner for claim in claims}
    recorded = {
        key: XComModel.deserialize_value(row)
        for row in session.scalars(
            select(XComModel).where(XComModel.run_id.in_(runs), XComModel.key == xcom.VENDOR_TASK_ID)
        )
        if (key := (row.dag_id, row.run_id, row.task_id, row.map_index)) in owners
    }
    waiters: dict[TiKey, Waiter] = {}
    for r in deferred:
        created, trigger = triggers.get(r.trigger_id, (None, None))
        if trigger is not None:
            key = (r.dag_id, r.run_id, r.task_id, r.map_index)
            waiters[key] = Waiter(key, r.trigger_id, created, trigger)
    result = Plan()
    for claim in claims:
        submitting = states.get(claim.owner) in SUBMITTING
        if recorded_id(recorded.get(claim.owner), claim.item) != claim.vendor_task_id:
            if not submitting:  # forged, stale, or of a cleared try: nobody will ever record it
                result.drop.append(claim)
            continue  # kept while its task still submits: checked again once it recorded its ids
        found = _waiting_on(waiters, claim)
        if found is not None:
            found.claims.append(claim)
        elif states.get(claim.owner) != "running":
            result.drop.append(claim)  # nothing waits on it, nor is about to: resumed, finished, cleared
    result.waiters = [waiter for waiter in waiters.values() if waiter.claims]
    return result


def _waiting_on(waiters: Mapping[TiKey, Waiter], claim: Claim) -> Waiter | None:
    """The ticket's own task instance if it waits on the claimed id, else one of its run that does (a sensor)."""
    own = waiters.get(claim.owner)
    if own is not None and claim.vendor_task_id in own.trigger.task_ids:
        return own
    for key, waiter in waiters.items():
        if key[:2] == claim.owner[:2] and claim.vendor_task_id in waiter.trigger.task_ids:
            return waiter
    return None


def connection_named(conn_id: str) -> Any:
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


def confirm(conn_id: str, service: str, task_ids: list[str]) -> dict[str, Any]:
    """The tasks' results from the vendor's own API; empty when the vendor cannot answer now (tried again)."""
    from airflow_provider_vidgen.hooks.base import hook_from_connection

    try:
        hook = hook_from_connection(connection_named(conn_id), conn_id)
    except Exception as err:
        log.info("could not confirm vendor callbacks: connection %r: %s", conn_id, type(err).__name__)
        return {}
    try:
        if len(task_ids) == 1:
            return {task_ids[0]: hook.retrieve(service, task_ids[0])}
        return hook.retrieve_many(service, task_ids)
    except Exception as err:
        log.info("could not confirm vendor callbacks for %d task(s): %s", len(task_ids), type(err).__name__)
        return {}
    finally:
        hook.close()


def resume(waiter: Waiter, results: Mapping[str, Any]) -> bool:
    """Resume the task instance with its trigger's event, if it still waits in the same deferral."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_vidgen.triggers.event import CALLBACK, SUCCESS

    dag_id, run_id, task_id, map_index = waiter.ti
    with create_session() as session:
        ti = session.scalars(
            select(TI)
            .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == map_index)
            .with_for_update()
        ).first()
        if ti is None or str(ti.state) != "deferred" or ti.trigger_id != waiter.trigger_id:
            return False  # resumed meanwhile (by its trigger), cleared or failed
        if session.scalar(select(Trigger.created_date).where(Trigger.id == waiter.trigger_id)) != waiter.created:
            return False  # the id now names another deferral's trigger
        trigger = waiter.trigger
        vendor = results[trigger.task_ids[0]].vendor
        message = "every task reached a final state (confirmed after the vendor's callbacks)"
        event = trigger.event(SUCCESS, results, vendor, message, via=CALLBACK)
        Trigger.submit_event(waiter.trigger_id, event, session=session)
        return True


class Confirmer:
    """Confirms claims of every store it is given, in a daemon thread or a pass at a time (``confirm_now``)."""

    def __init__(
        self,
        stores: Callable[[], Iterable[ClaimStore]] = known_claim_stores,
        clock: Callable[[], float] = time.time,
        holder: str | None = None,
    ) -> None:
        self.stores, self.clock = stores, clock
        self.holder = holder or uuid.uuid4().hex  # this confirmer's name in the stores' leases
        self.autostart = True  # tests turn it off and run passes themselves
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()
        self._start_lock = threading.Lock()

    def ensure_started(self) -> None:
        """Start the thread once per process (the API server's first use of the plugin's app)."""
        if not self.autostart or (self._thread is not None and self._thread.is_alive()):
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="vidgen-callback-confirmer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        for store in list(self.stores()):
            try:
                store.step_down(self.holder)
            except Exception:  # a store that cannot be reached: the lease expires by itself
                pass

    def wake(self) -> None:
        """A claim was recorded here: run a pass soon (after GATHER_SECONDS, to take in its burst)."""
        self._wake.set()

    def _run(self) -> None:
        try:  # the deployment's default store, watched from the start: another server's claims may be there
            claims_for("auto")
        except Exception as err:
            log.warning("the default claims store cannot be opened (%s)", type(err).__name__)
        while not self._stop.is_set():
            if self._wake.wait(CONFIRM_INTERVAL_SECONDS):
                self._stop.wait(GATHER_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.confirm_now()
            except Exception:  # the next pass tries again; a failing DB must not end the thread
                log.exception("vendor callback confirmation pass failed")

    def confirm_now(self) -> PassReport:
        """One pass over every store whose lease this confirmer holds (or takes)."""
        report = PassReport()
        with self._pass_lock:
            for store in list(self.stores()):
                try:  # one store out of reach (Redis down) must not keep the others' claims waiting
                    if store.lead(self.holder, LEASE_SECONDS):
                        report.led += 1
                        self._confirm_store(store, report)
                except Exception:
                    log.exception("vendor callback confirmation failed for the %s claims store", store.kind)
        return report

    def _confirm_store(self, store: ClaimStore, report: PassReport) -> None:
        from airflow.utils.session import create_session

        now = self.clock()
        claims = store.pending()
        expired = [claim for claim in claims if now > claim.kept_until]
        claims = [claim for claim in claims if now <= claim.kept_until]
        if expired:
            store.remove(expired)
            report.dropped += len(expired)
        if not any(claim.not_before <= now for claim in claims):
            return
        with create_session() as session:
            found = plan(session, claims)
        store.remove(found.drop)
        report.dropped += len(found.drop)
        ready = [waiter for waiter in found.waiters if waiter.complete and waiter.due(now)]
        by_service: dict[tuple[str, str], list[Waiter]] = defaultdict(list)
        for waiter in ready:
            by_service[waiter.trigger.conn_id, waiter.trigger.service].append(waiter)
        for group, ((conn_id, service), waiters) in enumerate(by_service.items()):
            # Each group waits for its requests at the status pace: the lease is renewed before each, and a
            # confirmer that lost it (it took too long) leaves the rest to the one that took over.
            if group and not store.lead(self.holder, LEASE_SECONDS):
                log.info("vendor callback confirmation handed over mid-pass (the %s store's lease)", store.kind)
                return
            ids = list(dict.fromkeys(task_id for waiter in waiters for task_id in waiter.trigger.task_ids))
            results = confirm(conn_id, service, ids)
            report.status_requests += 1
            for waiter in waiters:
                try:  # one task instance failing to resume must not stop the others'
                    self._settle(store, waiter, results, report)
                except Exception:
                    log.exception("could not resume %s after its vendor callbacks; tried again later", waiter.ti)
                    self._back_off(store, waiter)

    def _settle(self, store: ClaimStore, waiter: Waiter, results: Mapping[str, Any], report: PassReport) -> None:
        if any(task_id not in results or not results[task_id].terminal for task_id in waiter.trigger.task_ids):
            self._back_off(store, waiter)  # kept: the vendor's answer may come later, or the vendor be back
            report.unconfirmed.append(waiter.ti)
            return
        if resume(waiter, results):
            report.resumed.append(waiter.ti)
        else:
            report.dropped += len(waiter.claims)
        store.remove(waiter.claims)

    def _back_off(self, store: ClaimStore, waiter: Waiter) -> None:
        now = self.clock()
        for claim in waiter.claims:
            store.update(claim.backed_off(now))


CONFIRMER = Confirmer()  # this process's (the API server's) one confirmer
