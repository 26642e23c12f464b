"""Shared polling: every trigger of one connection in one event loop shares one poller.

Other providers poll once per trigger per interval, so 1,000 deferred tasks make 1,000 requests
every interval against one API token. Here the ids of all triggers that are due in the same poll
window go out together in ``retrieve_batch`` requests of ``batch_size`` ids, over one pooled
``httpx.AsyncClient``, and a 429 seen by any of them slows all of them down (shared backoff).

Triggers still serialize only their own ids: a poller is rebuilt from whatever triggers run in
the process, so it survives triggerer restarts and ``dag.test()`` (one fresh event loop per trigger).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from airflow_provider_vidgen.core.errors import ApiError, VidgenError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.transport import (
    ApiRequest,
    HttpResponse,
    Outcome,
    RetryPolicy,
    parse_retry_after,
    run_async,
)
from airflow_provider_vidgen.core.vendors import batch_flow, chunked
from airflow_provider_vidgen.hooks.base import VideoApiHook, ahook_for_connection

log = logging.getLogger(__name__)

# Subscriptions due within this share of their interval are polled together with the ones due now,
# so triggers that started at slightly different moments fall into step after their first poll.
COALESCE_SHARE = 0.5
COALESCE_MAX_SECONDS = 5.0
# Batch requests in flight at once per connection: enough to finish a 1,000-id cycle quickly,
# few enough to stay polite to a rate-limited API.
MAX_CONCURRENT_REQUESTS = 4
POLL_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=20.0)


@dataclass
class PollFailure:
    """Delivered to a subscription when a poll that covered its ids failed after retries."""

    error: VidgenError
    fatal: bool  # a retry cannot help (bad token, bad request)


@dataclass(eq=False)
class Subscription:
    service: str
    task_ids: list[str]
    poll_interval: float
    next_due: float
    updates: asyncio.Queue[dict[str, TaskResult] | PollFailure] = field(default_factory=asyncio.Queue)

    def due(self, now: float) -> bool:
        window = min(self.poll_interval * COALESCE_SHARE, COALESCE_MAX_SECONDS)
        return self.next_due <= now + window


class SharedPoller:
    """Polls the ids of all its subscriptions in batches; one instance per (event loop, connection)."""

    def __init__(self, hook: VideoApiHook, *, retry: RetryPolicy = POLL_RETRY) -> None:
        self.hook = hook
        self.retry = retry
        self.subscriptions: set[Subscription] = set()
        self.backoff_until = 0.0  # monotonic time before which no request is sent (shared 429 backoff)
        self.rate_limited_streak = 0
        self.requests_sent = 0
        self._client: httpx.AsyncClient | None = None
        self._running = False
        self._wakeup = asyncio.Event()
        self._on_idle: list[Callable[[SharedPoller], None]] = []

    # ------------------------------------------------------------ subscriptions

    def subscribe(self, service: str, task_ids: Sequence[str], poll_interval: float) -> Subscription:
        sub = Subscription(service, list(task_ids), poll_interval, time.monotonic() + poll_interval)
        self.subscriptions.add(sub)
        if not self._running:
            self._running = True
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"vidgen-poller-{self.hook.conn_id}")
        self._wakeup.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub``; safe to call twice. Its ids are not fetched again."""
        self.subscriptions.discard(sub)
        self._wakeup.set()

    # ------------------------------------------------------------ polling loop

    async def _run(self) -> None:
        try:
            while self.subscriptions:
                now = time.monotonic()
                due = [sub for sub in self.subscriptions if sub.due(now)]
                if not due:
                    wait = min(sub.next_due for sub in self.subscriptions) - now
                    self._wakeup.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=max(wait, 0.0))
                    continue
                for sub in due:
                    sub.next_due = now + sub.poll_interval
                await self.poll(due)
        finally:
            # Stop accepting work before the first await, so a subscription made while the client
            # closes starts a fresh loop instead of joining this finished one.
            self._running = False
            for callback in self._on_idle:
                callback(self)
            if self._client is not None:
                client, self._client = self._client, None
                await client.aclose()

    async def poll(self, subs: Sequence[Subscription]) -> None:
        """One poll cycle for ``subs``: every distinct id once, in batches, results routed back."""
        wanted: dict[str, dict[str, list[Subscription]]] = defaultdict(lambda: defaultdict(list))
        for sub in subs:
            for task_id in sub.task_ids:
                wanted[sub.service][task_id].append(sub)
        if self._client is None:
            self._client = await self.hook.aget_client(max_connections=MAX_CONCURRENT_REQUESTS)
        settings = await self.hook.asettings()
        semaphore = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

        async def fetch(service: str, chunk: list[str]) -> None:
            async with semaphore:
                try:
                    results: dict[str, TaskResult] | PollFailure = await self._fetch(service, chunk)
                except ApiError as err:
                    results = PollFailure(err, fatal=not err.retryable)
                except VidgenError as err:
                    results = PollFailure(err, fatal=True)
                except Exception as err:  # a bug must not strand every trigger of the connection
                    log.exception("unexpected error while polling %s", self.hook.conn_id)
                    results = PollFailure(VidgenError(f"unexpected poll error: {type(err).__name__}"), fatal=False)
            self._deliver(wanted[service], chunk, results)

        jobs = [
            fetch(service, chunk)
            for service, ids in wanted.items()
            for chunk in chunked(list(ids), settings.batch_size)
        ]
        await asyncio.gather(*jobs)

    async def _fetch(self, service: str, chunk: list[str]) -> dict[str, TaskResult]:
        spec = self.hook.vendor.service(service)
        flow = batch_flow(self.hook.vendor, spec, chunk, self.retry)
        return await run_async(flow, self._send, asyncio.sleep)

    async def _send(self, request: ApiRequest) -> Outcome:
        """Send through the shared gate; a 429 closes the gate for every trigger of this connection."""
        while (wait := self.backoff_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        assert self._client is not None
        self.requests_sent += 1
        outcome = await self.hook.asend(self._client, request)
        if isinstance(outcome, HttpResponse) and outcome.status == 429:
            self.rate_limited_streak += 1
            delay = self.retry.delay(self.rate_limited_streak, parse_retry_after(outcome.headers))
            self.backoff_until = max(self.backoff_until, time.monotonic() + delay)
            log.warning(
                "%s rate limit hit; all polls of %s pause %.1fs", self.hook.vendor.label, self.hook.conn_id, delay
            )
        elif isinstance(outcome, HttpResponse) and outcome.status < 400:
            self.rate_limited_streak = 0
        return outcome

    @staticmethod
    def _deliver(
        owners: dict[str, list[Subscription]], chunk: list[str], results: dict[str, TaskResult] | PollFailure
    ) -> None:
        by_sub: dict[Subscription, dict[str, TaskResult]] = defaultdict(dict)
        for task_id in chunk:
            for sub in owners[task_id]:
                if isinstance(results, PollFailure):
                    by_sub[sub] = {}
                else:
                    by_sub[sub][task_id] = results[task_id]
        for sub, update in by_sub.items():
            sub.updates.put_nowait(results if isinstance(results, PollFailure) else update)


# One registry per event loop: pollers never cross loops (dag.test() runs each trigger in its own).
_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedPoller]] = weakref.WeakKeyDictionary()


async def shared_poller(conn_id: str) -> SharedPoller:
    """The poller of ``conn_id`` in the running event loop, created on first use."""
    pollers = _registry.setdefault(asyncio.get_running_loop(), {})
    poller = pollers.get(conn_id)
    if poller is None:
        hook = await ahook_for_connection(conn_id)
        await hook.asettings()
        poller = pollers.get(conn_id)  # another trigger may have created it while we awaited
        if poller is None:
            poller = pollers[conn_id] = SharedPoller(hook)
            poller._on_idle.append(lambda p: pollers.pop(conn_id, None) if pollers.get(conn_id) is p else None)
    return poller


async def private_poller(conn_id: str) -> SharedPoller:
    """A poller for one trigger alone: how other providers poll (one request per trigger per interval)."""
    hook = await ahook_for_connection(conn_id)
    await hook.asettings()
    return SharedPoller(hook)
