"""Shared polling: every trigger of one connection in one event loop shares one poller.

Other providers poll once per trigger per interval, so 1,000 deferred tasks make 1,000 requests
every interval against one API token. Here the ids of all triggers that are due in the same poll
cycle go out together in ``retrieve_batch`` requests of ``batch_size`` ids, over one pooled
``httpx.AsyncClient``, through the hook's gate (``hooks.gate``): a 429 (or any ``Retry-After``) seen by
any of them slows (or pauses) the token's status pace for every process on the token. A service without a
batch endpoint (HiDream v3) gets one retrieve per id instead, from the same flow
(``core.flows.batch_flow``).

Triggers still serialize only their own ids: a poller is rebuilt from whatever triggers run in
the process, so it survives triggerer restarts and ``dag.test()`` (one fresh event loop per trigger).
A poller lives as long as it has subscriptions: when the last one leaves, its loop stops, its
client is closed and it leaves the registry; the next subscriber gets a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from airflow_provider_vidgen.core.errors import ApiError, VidgenError
from airflow_provider_vidgen.core.flows import batch_flow, chunked
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.transport import (
    RetryPolicy,
)
from airflow_provider_vidgen.hooks.base import VideoApiHook, ahook_for_connection

log = logging.getLogger(__name__)

# Subscriptions due within this share of their interval are polled together with the ones due now.
COALESCE_SHARE = 0.5
COALESCE_MAX_SECONDS = 5.0
# Batch requests in flight at once per connection: enough to finish a 1,000-id cycle quickly,
# few enough to stay polite to a rate-limited API.
MAX_CONCURRENT_REQUESTS = 4
POLL_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=20.0)
# The pollers' monotonic clock. Tests replace it to decide when a cycle comes due instead of racing it.
clock: Callable[[], float] = time.monotonic


@dataclass
class PollFailure:
    """Delivered to a subscription when a poll that covered its ids failed after retries."""

    error: VidgenError
    fatal: bool  # a retry cannot help (bad token, bad request)


class DeadlinePassed:
    """Delivered once to a subscription whose ``end_time`` has passed."""

    def __repr__(self) -> str:
        return "DeadlinePassed()"


DEADLINE_PASSED = DeadlinePassed()

Update = dict[str, TaskResult] | PollFailure | DeadlinePassed


@dataclass(eq=False)
class Subscription:
    """One trigger's ids in a poller. ``task_ids`` may be narrowed by its owner between polls."""

    service: str
    task_ids: list[str]
    poll_interval: float
    next_due: float  # monotonic time of its next poll
    updates: asyncio.Queue[Update] = field(default_factory=asyncio.Queue)
    deadline: asyncio.TimerHandle | None = field(default=None, repr=False)

    def due(self, now: float) -> bool:
        window = min(self.poll_interval * COALESCE_SHARE, COALESCE_MAX_SECONDS)
        return self.next_due <= now + window


class SharedPoller:
    """Polls the ids of all its subscriptions in batches; one instance per (event loop, connection).

    New subscriptions join the poller's next cycle (when that comes within their interval), so
    triggers that arrive at different moments are polled together from then on: a cycle costs
    ``ceil(ids / batch_size)`` requests, however many triggers hold the ids.
    """

    def __init__(self, hook: VideoApiHook, *, retry: RetryPolicy = POLL_RETRY) -> None:
        self.hook = hook
        self.retry = retry
        self.subscriptions: set[Subscription] = set()
        self.closed = False
        # Counters for logs, tests and benchmarks (requests_sent and rate_limited: the hook's gate counts them).
        self.cycles = 0
        self.ids_polled = 0
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_cycle: float | None = None  # when the loop plans its next poll
        self._wakeup = asyncio.Event()
        self._registry: dict[str, SharedPoller] | None = None

    def __repr__(self) -> str:
        return (
            f"SharedPoller(conn_id={self.hook.conn_id!r}, subscriptions={len(self.subscriptions)}, "
            f"cycles={self.cycles}, requests={self.requests_sent}, closed={self.closed})"
        )

    # ------------------------------------------------------------ subscriptions

    def subscribe(
        self,
        service: str,
        task_ids: Sequence[str],
        poll_interval: float,
        *,
        end_time: float | None = None,
        poll_now: bool = False,
    ) -> Subscription:
        """Poll ``task_ids`` every ``poll_interval`` s; results arrive on the subscription's queue.

        ``end_time`` (epoch seconds) puts :data:`DEADLINE_PASSED` on the queue once it passes.
        ``poll_now`` polls first at once instead of after one interval.
        """
        if self.closed:
            raise RuntimeError(f"{self!r} is closed; get a poller with shared_poller()")
        loop = asyncio.get_running_loop()
        now = clock()
        first = now if poll_now else now + poll_interval
        if self._next_cycle is not None and now < self._next_cycle < first:
            first = self._next_cycle  # join the next cycle instead of starting a cycle of its own
        sub = Subscription(service, list(task_ids), float(poll_interval), first)
        if end_time is not None:
            sub.deadline = loop.call_later(max(end_time - time.time(), 0.0), sub.updates.put_nowait, DEADLINE_PASSED)
        self.subscriptions.add(sub)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name=f"vidgen-poller-{self.hook.conn_id}")
        elif self._next_cycle is None or first < self._next_cycle:
            self._wakeup.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub``; safe to call twice. Its ids are not fetched again.

        The last subscription leaving closes the poller: the loop (and any poll in flight) is
        cancelled, the client closed, and the poller leaves the registry.
        """
        if sub.deadline is not None:
            sub.deadline.cancel()
            sub.deadline = None
        self.subscriptions.discard(sub)
        if not self.subscriptions and not self.closed:
            self._close()

    def _close(self) -> None:
        self.closed = True
        if self._registry is not None and self._registry.get(self.hook.conn_id) is self:
            del self._registry[self.hook.conn_id]
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # ------------------------------------------------------------ polling loop

    async def _run(self) -> None:
        try:
            # Created up front (an SSL context costs tens of ms), so a poll cycle only polls.
            self._client = await self.hook.aget_client(max_connections=MAX_CONCURRENT_REQUESTS)
            while self.subscriptions:
                now = clock()
                due = [sub for sub in self.subscriptions if sub.due(now)]
                if not due:
                    self._next_cycle = min(sub.next_due for sub in self.subscriptions)
                    self._wakeup.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=max(self._next_cycle - now, 0.0))
                    continue
                for sub in due:
                    sub.next_due = now + sub.poll_interval
                self._next_cycle = min(sub.next_due for sub in self.subscriptions)
                await self.poll(due)
        except Exception as err:  # a bug here must not leave every trigger of the connection waiting
            log.exception("the poller of %s stopped", self.hook.conn_id)
            failure = PollFailure(VidgenError(f"the shared poller stopped: {type(err).__name__}: {err}"), fatal=True)
            for sub in self.subscriptions:
                sub.updates.put_nowait(failure)
        finally:
            self._next_cycle = None
            client, self._client = self._client, None
            if client is not None:
                # Shielded: a poller cancelled by its last trigger still closes its connections.
                await asyncio.shield(client.aclose())

    async def poll(self, subs: Sequence[Subscription]) -> None:
        """One poll cycle for ``subs``: every distinct id once, in batches, results routed back."""
        wanted: dict[str, dict[str, list[Subscription]]] = {}
        for sub in subs:
            owners = wanted.setdefault(sub.service, {})
            for task_id in sub.task_ids:
                if task_id in owners:
                    owners[task_id].append(sub)
                else:
                    owners[task_id] = [sub]
        if not wanted:
            return
        settings = await self.hook.asettings()
        self.cycles += 1
        semaphore = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

        async def fetch(service: str, chunk: list[str]) -> None:
            async with semaphore:
                # Triggers can leave while this chunk waits for its turn: their ids are not fetched.
                chunk = [task_id for task_id in chunk if not self.subscriptions.isdisjoint(wanted[service][task_id])]
                if not chunk:
                    return
                self.ids_polled += len(chunk)
                try:
                    results: dict[str, TaskResult] | PollFailure = await self._fetch(service, chunk)
                except ApiError as err:
                    results = PollFailure(err, fatal=not err.retryable)
                except VidgenError as err:
                    results = PollFailure(err, fatal=True)
                except Exception as err:  # a bug must not strand every trigger of the connection
                    log.exception("unexpected error while polling %s", self.hook.conn_id)
                    results = PollFailure(VidgenError(f"unexpected poll error: {type(err).__name__}"), fatal=False)
            if isinstance(results, PollFailure):  # logged once here, not once per waiting trigger
                log.warning("poll of %d %s id(s) failed after retries: %s", len(chunk), service, results.error)
            self._deliver(wanted[service], chunk, results)

        jobs = [
            fetch(service, chunk)
            for service, owners in wanted.items()
            for chunk in chunked(list(owners), settings.batch_size)
        ]
        await asyncio.gather(*jobs)

    async def _fetch(self, service: str, chunk: list[str]) -> dict[str, TaskResult]:
        """One batch: the same flow the hooks drive, through the hook's gate (its status pace, which a 429 or a
        ``Retry-After`` slows or pauses for every process on the token, and its in-flight leases)."""
        spec = self.hook.vendor.service(service)
        flow = batch_flow(self.hook.vendor, spec, chunk, self.retry)
        return await self.hook.arun_flow(flow, spec, chunk, client=self._client)

    @property
    def requests_sent(self) -> int:
        return self.hook.gate.sent if self.hook.gate else 0

    @property
    def rate_limited(self) -> int:
        return self.hook.gate.throttled if self.hook.gate else 0

    def _deliver(
        self, owners: dict[str, list[Subscription]], chunk: list[str], results: dict[str, TaskResult] | PollFailure
    ) -> None:
        """Give every subscription its own results of ``chunk`` (or the failure), once per chunk."""
        live = self.subscriptions
        if isinstance(results, PollFailure):
            for sub in {sub for task_id in chunk for sub in owners[task_id]}:
                if sub in live:
                    sub.updates.put_nowait(results)
            return
        by_sub: dict[Subscription, dict[str, TaskResult]] = {}
        for task_id in chunk:
            result = results.get(task_id)
            if result is None:
                continue
            for sub in owners[task_id]:
                if sub in live:
                    if sub in by_sub:
                        by_sub[sub][task_id] = result
                    else:
                        by_sub[sub] = {task_id: result}
        for sub, update in by_sub.items():
            sub.updates.put_nowait(update)


# One registry per event loop: pollers never cross loops (dag.test() runs each trigger in its own).
_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedPoller]] = weakref.WeakKeyDictionary()
_creating: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


async def shared_poller(conn_id: str) -> SharedPoller:
    """The poller of ``conn_id`` in the running event loop, created on first use.

    A thousand triggers starting together resolve the connection once: the others wait for it.
    Subscribe right after the await (no other await in between), or the poller may have closed.
    """
    loop = asyncio.get_running_loop()
    pollers = _registry.setdefault(loop, {})
    poller = pollers.get(conn_id)
    if poller is not None:
        return poller
    lock = _creating.setdefault(loop, {}).setdefault(conn_id, asyncio.Lock())
    async with lock:
        poller = pollers.get(conn_id)
        if poller is None:
            poller = SharedPoller(await _configured_hook(conn_id))
            poller._registry = pollers
            pollers[conn_id] = poller
    return poller


async def private_poller(conn_id: str) -> SharedPoller:
    """A poller for one trigger alone: how other providers poll (one request per trigger per interval)."""
    return SharedPoller(await _configured_hook(conn_id))


async def _configured_hook(conn_id: str) -> VideoApiHook:
    """The connection's hook with its settings loaded, so a bad connection fails before polling."""
    hook = await ahook_for_connection(conn_id)
    await hook.asettings()
    return hook


def pollers_in_loop(loop: asyncio.AbstractEventLoop | None = None) -> dict[str, SharedPoller]:
    """The shared pollers registered in ``loop`` (default: the running one), for diagnostics and tests."""
    return dict(_registry.get(loop or asyncio.get_running_loop(), {}))


__all__ = [
    "DEADLINE_PASSED",
    "DeadlinePassed",
    "PollFailure",
    "SharedPoller",
    "Subscription",
    "Update",
    "pollers_in_loop",
    "private_poller",
    "shared_poller",
]
