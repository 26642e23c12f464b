"""The emulator's mutable state: tasks, counters, rate-limit windows, fault dice and callbacks.

Everything runs on the server's event loop (one thread), so no locks are needed; the
:class:`~airflow_provider_vidgen.emulator.server.EmulatorServer` reaches in through that loop.
Lookups are dict hits and task state is computed from timestamps, so thousands of tasks and
hundreds of requests per second stay cheap.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any, Protocol

from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.emulator.config import EmulatorConfig
from airflow_provider_vidgen.emulator.limiter import VendorLimiter
from airflow_provider_vidgen.emulator.tasks import CANCELLED, QUEUED, RUNNING, Task, new_task, prompt_text


class TaskRecords(Protocol):
    """What the state asks of a vendor's face (``emulator.face.VendorFace``): ids and callbacks in the
    vendor's own shape. The face calls the state; the state knows the face only by this."""

    def item_id(self, task: Task) -> str: ...

    def callback_moments(self, task: Task) -> list[tuple[float, bool]]: ...

    def callback_body(self, task: Task, moment: float) -> dict[str, Any]: ...


log = logging.getLogger("airflow_provider_vidgen.emulator")

KINDS = (
    "submit",
    "retrieve",
    "retrieve_batch",
    "delete",
    "download",
    "callback",
    "callback_failed",
    "callback_lost",
    "callback_refused",
    "rejected_auth",
    "rate_limited",
    "used_up",
    "fault",
)
MAX_SINK = 10_000  # callbacks kept by the built-in receiver


class EmulatorClock:
    """Monotonic time as the emulator sees it: real time, or held still and stepped by a test.

    Task lifecycles and rate-limit windows read this clock, so a test can hold it, look at a task
    in each phase, and step to the next phase, instead of racing the real clock on a busy machine.
    It never goes backwards.
    """

    def __init__(self) -> None:
        self._held: float | None = None
        self._offset = 0.0

    def __call__(self) -> float:
        return self._held if self._held is not None else time.monotonic() + self._offset

    @property
    def held(self) -> bool:
        return self._held is not None

    def hold(self) -> None:
        self._held = self()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulator clock never goes backwards")
        if self._held is not None:
            self._held += seconds
        else:
            self._offset += seconds

    def release(self) -> None:
        if self._held is not None:
            self._offset = self._held - time.monotonic()
            self._held = None


class EmulatorState:
    def __init__(self, config: EmulatorConfig | None = None, faces: Mapping[str, TaskRecords] | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.faces = dict(faces or {})  # vendor name -> its face (record ids, callback bodies)
        self.clock = EmulatorClock()
        self.limiter = VendorLimiter(self.clock)
        self.rng = random.Random(self.config.seed)
        self.tasks: dict[str, Task] = {}
        self.windows: dict[str, deque[float]] = {}
        self.timers: dict[str, list[asyncio.TimerHandle]] = {}
        self.inflight: set[asyncio.Task[None]] = set()
        self.sink: list[dict[str, Any]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self.spent: dict[str, int] = {}  # token -> submissions paid since balance_submissions was set
        self._reset_counts()

    # ---------------------------------------------------------------- counters

    def _reset_counts(self) -> None:
        self.counts = dict.fromkeys(KINDS, 0)
        self.by_vendor = {vendor: dict.fromkeys(KINDS, 0) for vendor in self.faces}
        self.ids_polled = 0
        self.tasks_created = 0
        self.open_requests = dict.fromkeys(KINDS, 0)  # being answered right now, by kind
        self.peak_open_requests = dict.fromkeys(KINDS, 0)
        self.per_second: dict[str, dict[int, int]] = {}  # token -> wall-clock second -> API requests
        self.callbacks_delivered: dict[str, float] = {}  # task id -> wall time its final callback was answered
        # Seconds from sending each callback to its answer (a timeout or failure: the time it took to fail)
        self.callback_answer_seconds: list[float] = []

    def count(self, kind: str, vendor: str | None = None, n: int = 1) -> None:
        self.counts[kind] += n
        if vendor in self.by_vendor:
            self.by_vendor[vendor][kind] += n

    def record_rate(self, token: str) -> None:
        """Count an authenticated API request in its second (what the token really sent, 429s included)."""
        seconds = self.per_second.setdefault(token, {})
        second = int(time.time())
        seconds[second] = seconds.get(second, 0) + 1

    def rate_stats(self) -> dict[str, Any]:
        """Per token: the most requests in any one wall-clock second, and the seconds above the limit."""
        limit = self.config.rate_limit
        out = {}
        for token, seconds in self.per_second.items():
            key = f"token-{sorted(self.per_second).index(token)}"  # never the token itself
            over = sum(1 for count in seconds.values() if limit and count > limit)
            out[key] = {"peak_per_second": max(seconds.values()), "seconds_over_limit": over, "seconds": len(seconds)}
        return out

    def stats(self) -> dict[str, Any]:
        return {
            "rates": self.rate_stats(),
            "counts": dict(self.counts),
            "ids_polled": self.ids_polled,
            "tasks": len(self.tasks),
            "tasks_created": self.tasks_created,
            "prompts": self.prompt_stats(),
            # Submissions each token's balance can still pay for (balance_submissions; absent: unlimited).
            "balance_left": {
                f"token-{index}": max(self.config.balance_submissions - self.spent.get(token, 0), 0)
                for index, token in enumerate(sorted(self.config.tokens))
            }
            if self.config.balance_submissions is not None
            else {},
            # Per token and limit group: requests open now and the most at once (counted whether or not
            # enforce_limits refuses past the vendor's figure); every 429 answered, by error code.
            "in_flight": self.limiter.stats(self.config.tokens),
            "answers_429": dict(self.limiter.answers_429),
            # The most requests of one kind answered at once: shows whether a client overlaps its calls.
            "peak_concurrent": {kind: peak for kind, peak in self.peak_open_requests.items() if peak},
            "by_vendor": {vendor: dict(counts) for vendor, counts in self.by_vendor.items()},
        }

    def prompt_stats(self) -> dict[str, int]:
        """How many generations each prompt got (each one created, so paid): a client that submits every
        prompt exactly once has ``most_tasks_per_prompt`` 1 and no ``prompts_created_twice``."""
        per_prompt = Counter(prompt_text(task.request) for task in self.tasks.values())
        return {
            "distinct": len(per_prompt),
            "most_tasks_per_prompt": max(per_prompt.values(), default=0),
            "prompts_created_twice": sum(1 for count in per_prompt.values() if count > 1),
        }

    def reset(self) -> None:
        """Forget every task, counter, rate window and received callback; re-seed the dice."""
        self._cancel_pending()
        self.tasks.clear()
        self.spent.clear()
        self.windows.clear()
        self.limiter.reset()
        self.per_second.clear()
        self.sink.clear()
        self.rng = random.Random(self.config.seed)
        self.clock.release()
        self._reset_counts()

    def configure(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        new = self.config.updated(changes)
        if new.seed != self.config.seed:
            self.rng = random.Random(new.seed)
        if "balance_submissions" in changes:  # a new balance (a top-up): counted from now
            self.spent.clear()
        self.config = new
        return new.public_dict()

    # ---------------------------------------------------------------- auth, limits, faults

    def rate_check(self, token: str, now: float) -> float | None:
        """None if the request may pass (and it is counted in the window); else seconds to wait."""
        limit = self.config.rate_limit
        if limit <= 0:
            return None
        window = self.windows.get(token)
        if window is None:
            window = self.windows[token] = deque()
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            return max(0.0, window[0] + 1.0 - now)
        window.append(now)
        return None

    def roll_fault(self) -> str | None:
        """One draw per API request (only when a fault rate is set): "429", "500", "502", "drop" or None."""
        config = self.config
        rates = (
            ("429", config.fail_429_rate),
            ("500", config.fail_500_rate),
            ("502", config.fail_502_rate),
            ("drop", config.drop_rate),
        )
        if not any(rate for _, rate in rates):
            return None
        draw = self.rng.random()
        edge = 0.0
        for fault, rate in rates:
            edge += rate
            if draw < edge:
                return fault
        return None

    def pay(self, token: str) -> bool:
        """Take one submission off the token's balance; False (nothing taken) when it is used up."""
        balance = self.config.balance_submissions
        if balance is None:
            return True
        if self.spent.get(token, 0) >= balance:
            return False
        self.spent[token] = self.spent.get(token, 0) + 1
        return True

    def roll_ambiguous(self) -> bool:
        rate = self.config.ambiguous_submit_rate
        return bool(rate) and self.rng.random() < rate

    # ---------------------------------------------------------------- tasks

    def create(
        self, spec: ServiceSpec, body: Mapping[str, Any], *, token: str, base_url: str, callback_url: str | None
    ) -> Task:
        config = self.config
        task = new_task(
            spec,
            body,
            token=token,
            base_url=config.public_url or base_url,
            queued=config.queued_seconds,
            running=config.running_seconds,
            callback_url=callback_url,
            now=self.clock(),
            item_id=self.faces[spec.vendor].item_id,
        )
        self.tasks[task.id] = task
        self.tasks_created += 1
        if callback_url:
            self._schedule_callback(task)
        return task

    def lookup(self, task_id: Any, poll_path: str) -> Task | None:
        """The task, if it exists and belongs to the family whose tasks endpoint is ``poll_path``."""
        task = self.tasks.get(task_id) if isinstance(task_id, str) else None
        return task if task is not None and task.spec.poll_path == poll_path else None

    def delete(self, task_id: Any, poll_path: str) -> tuple[bool, str | None]:
        """MiniMax's ``delete`` (Docs minimax_tasks.mdx): a queued task is cancelled, a finished one's record
        deleted; a running or cancelled one is refused. (deleted, why not)."""
        task = self.lookup(task_id, poll_path)
        if task is None:
            return False, None
        phase, _ = task.phase(self.clock())
        if phase == QUEUED:
            task.outcome, task.queued, task.running = CANCELLED, max(self.clock() - task.t0, 0.0), 0.0
        elif phase == RUNNING:
            return False, "a running task cannot be deleted or cancelled"
        elif task.outcome == CANCELLED:
            return False, "the task was already cancelled"
        else:
            del self.tasks[task.id]
        for handle in self.timers.pop(task.id, ()):
            handle.cancel()
        return True, None

    # ---------------------------------------------------------------- callbacks

    def _schedule_callback(self, task: Task) -> None:
        """Every callback the vendor sends for ``task`` (its face says when and what), each as often as
        ``callback_duplicates`` says, ``callback_delay`` late; a ``callback_loss_rate`` share of tasks never
        gets its final callback."""
        loop = asyncio.get_running_loop()
        config = self.config
        lost = bool(config.callback_loss_rate) and self.rng.random() < config.callback_loss_rate
        handles = []
        for moment, final in self.faces[task.vendor].callback_moments(task):
            if final and lost:
                self.count("callback_lost", task.vendor)
                continue
            delay = max(0.0, task.t0 + moment - self.clock()) + config.callback_delay
            for copy in range(1 + config.callback_duplicates):
                handles.append(loop.call_later(delay + copy * 0.05, self._fire_callback, task, moment, final))
        self.timers[task.id] = handles

    def _fire_callback(self, task: Task, moment: float, final: bool) -> None:
        if self.tasks.get(task.id) is not task:  # deleted or reset meanwhile
            return
        pending = asyncio.ensure_future(self._post_callback(task, moment, final))
        self.inflight.add(pending)
        pending.add_done_callback(self.inflight.discard)

    async def _post_callback(self, task: Task, moment: float, final: bool) -> None:
        import httpx

        body = self.faces[task.vendor].callback_body(task, moment)
        self.count("callback", task.vendor)
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False)
        where = httpx.URL(task.callback_url or "").host  # never the whole URL: it carries the ticket
        sent = time.monotonic()
        try:
            answer = await self._client.post(task.callback_url, json=body, timeout=self.config.callback_timeout)
        except httpx.HTTPError as exc:
            log.warning("callback for task %s to %s failed: %s", task.id, where, type(exc).__name__)
            self.count("callback_failed", task.vendor)
            return
        finally:
            self.callback_answer_seconds.append(time.monotonic() - sent)
        if not 200 <= answer.status_code < 300:
            log.info("callback for task %s to %s answered HTTP %s", task.id, where, answer.status_code)
            self.count("callback_refused", task.vendor)
        elif final:  # delivered: answered with a 2xx (a 4xx/5xx answer is not a delivery)
            self.callbacks_delivered.setdefault(task.id, time.time())

    def receive_callback(self, path: str, body: Any) -> None:
        if len(self.sink) < MAX_SINK:
            self.sink.append({"path": path, "received_at": time.time(), "body": body})

    def _cancel_pending(self) -> None:
        """Stop every scheduled state change and callback still on its way."""
        for handles in self.timers.values():
            for handle in handles:
                handle.cancel()
        self.timers.clear()
        for pending in list(self.inflight):
            pending.cancel()

    async def startup(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def shutdown(self) -> None:
        self._cancel_pending()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
