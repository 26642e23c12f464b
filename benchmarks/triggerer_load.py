"""Triggerer load: N deferred video tasks in one triggerer process, shared polling vs one poll per trigger.

    python benchmarks/triggerer_load.py [--n 1000] [--poll-interval 15] [--batch-size 50] [--rate-limit 20]

The emulator runs in its own process (its CPU and memory are not counted). Every mode runs in a
fresh worker process that behaves like Airflow's TriggerRunner: each trigger is rebuilt from its
serialized classpath and kwargs (JSON round trip, as the triggerer gets them from the database),
run as its own asyncio task in one event loop, its ``run()`` iterated to the end, then
``cleanup()``. Before each mode the parent submits N fresh Hailuo tasks over HTTP with
finish times spread over ``--spread`` seconds, so triggers fire at different moments.

Modes (``--modes``, in this order by default):

* ``shared``: this provider's default, every trigger of the connection shares one poller
  (``retrieve_batch`` in chunks of the batch size, one pooled client), with the rate limit on.
* ``private``: ``shared_polling=False``, one poll per trigger per interval with its own client,
  the way other providers poll; same rate limit. It is expected to collect 429s; triggers end
  by their deadline (``end_time``) or by giving up after repeated failed polls.
* ``private-unlimited``: the same without a rate limit, so its CPU, memory and delay show what
  one-poll-per-trigger costs when the API lets it through.

What is measured (in the worker, except where the emulator's counters are named):

* requests per poll cycle: every poller numbers its poll cycles; cycle 1 of the fleet is the first
  poll of every poller (one poller when shared, one per trigger otherwise), when all N triggers
  are waiting. Every attempt counts, 429s and retries included. The emulator's own counters are
  shown next to the client's.
* CPU: the worker's CPU seconds for the whole mode, and over the first poll interval (from the
  first poll request on, one interval long, everything the process did in it: polls, parsing,
  waking the triggers, the events of tasks that finished, logging). Divided by the ids asked for
  in that interval it gives CPU per 1,000 ids. The worker warms up httpx first (one request), as
  a triggerer that has run before has; one-time lazy imports are not a cost of a poll cycle.
* RSS per waiting trigger: (peak RSS in the first poll interval - RSS before any trigger) / N.
* detection delay: wall time from a task's ``finished_at`` (the emulator's record, read after the
  run) to its trigger's event.
* outcomes: how many triggers fired success / timeout (``end_time`` passed) / error (polling gave
  up), and how many the benchmark had to cancel (none should).

Logging: the provider's loggers stay at INFO and every record is formatted, then dropped, so
logging costs what it would in a triggerer without flooding the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TOKEN = "bench-token-3f1c"
CONN_ID = "vidgen_bench"
SERVICE = "hailuo"
MARK = "@@BENCH "
REPO = Path(__file__).resolve().parent.parent


# =============================================================================================
# Worker: one triggerer-like event loop
# =============================================================================================


def worker_main(args: argparse.Namespace) -> int:
    import logging

    import psutil

    class Discarding(logging.Handler):
        """Formats every record like a real handler would (that CPU is counted), then drops it;
        counts the warnings (thousands of 429 warnings in the private mode)."""

        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            self.count = 0
            self.warnings = 0

        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)
            self.count += 1
            self.warnings += record.levelno >= logging.WARNING

    counting = Discarding()
    for name, level in (
        ("airflow_provider_vidgen", logging.INFO),
        ("httpx", logging.WARNING),
        ("httpcore", logging.WARNING),
    ):
        lg = logging.getLogger(name)
        lg.handlers[:] = [counting]
        lg.setLevel(level)
        lg.propagate = False

    from airflow.sdk.module_loading import import_string

    from airflow_provider_vidgen.hooks.base import VideoApiHook
    from airflow_provider_vidgen.triggers import poller as poller_module
    from airflow_provider_vidgen.triggers.video import VideoTaskTrigger

    proc = psutil.Process()
    requests_log: list[tuple[float, int, int]] = []  # (monotonic send time, HTTP status or 0, ids asked)
    original_asend = VideoApiHook.asend

    async def counting_asend(self: Any, client: Any, request: Any) -> Any:
        sent = time.monotonic()
        outcome = await original_asend(self, client, request)
        body = request.json if isinstance(request.json, dict) else {}
        ids = len(body.get("ids") or ()) if body.get("action") == "retrieve_batch" else 1
        requests_log.append((sent, getattr(outcome, "status", 0), ids))
        return outcome

    VideoApiHook.asend = counting_asend  # type: ignore[method-assign]

    # Requests per poll cycle: every poller numbers its cycles; cycle k of the fleet is the k-th
    # poll of every poller (one poller in the shared mode, one per trigger otherwise).
    cycle_log: list[tuple[int, int, int]] = []  # (cycle index of its poller, requests sent, ids asked)
    original_poll = poller_module.SharedPoller.poll

    async def counting_poll(self: Any, subs: Any) -> None:
        index, sent = self.cycles, self.requests_sent
        try:
            await original_poll(self, subs)
        finally:
            ids = sum(len(sub.task_ids) for sub in subs)
            cycle_log.append((index, self.requests_sent - sent, ids))

    poller_module.SharedPoller.poll = counting_poll  # type: ignore[method-assign]

    samples: list[tuple[float, float, int]] = []  # (monotonic, process CPU seconds, RSS bytes)

    def sample() -> None:
        samples.append((time.monotonic(), time.process_time(), proc.memory_info().rss))

    async def sampler() -> None:
        while True:
            sample()
            await asyncio.sleep(0.25)

    async def run_trigger(classpath: str, kwargs: dict[str, Any], index: int, fired: list[Any]) -> None:
        trigger = import_string(classpath)(**kwargs)  # the triggerer inflates the trigger in its loop
        try:
            async for event in trigger.run():
                if fired[index] is None:
                    payload = event.payload
                    fired[index] = (time.time(), payload["status"], payload["results"][0]["state"])
        finally:
            await trigger.cleanup()

    async def warm_up() -> None:
        """One request through httpx first, as a triggerer that has run before has done: lazy imports
        (anyio's backend, h11) are one-time process costs, not costs of a poll cycle."""
        import httpx

        async with httpx.AsyncClient(base_url=args.url, trust_env=False) as client:
            await client.get("/_emulator/health")

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        await warm_up()
        sampler_task = loop.create_task(sampler())
        await asyncio.sleep(0.3)
        baseline_rss = proc.memory_info().rss
        print(MARK + json.dumps({"ready": True, "rss": baseline_rss}), flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        ids: list[str] = json.loads(line)["ids"]
        baseline_rss = proc.memory_info().rss  # the id list is the input, not the triggers' cost
        cpu0 = time.process_time()
        t_start = time.monotonic()
        end_time = time.time() + args.deadline
        fired: list[Any] = [None] * len(ids)
        tasks: list[asyncio.Task[None]] = []
        per_step = max(1, round(len(ids) / max(args.ramp / 0.05, 1)))
        for index, task_id in enumerate(ids):
            # What the worker does at defer() time: serialize; then the triggerer reads JSON kwargs.
            classpath, kwargs = VideoTaskTrigger(
                conn_id=CONN_ID,
                service=SERVICE,
                task_ids=[task_id],
                poll_interval=args.poll_interval,
                end_time=end_time,
                shared_polling=args.mode == "shared",
            ).serialize()
            kwargs = json.loads(json.dumps(kwargs))
            tasks.append(loop.create_task(run_trigger(classpath, kwargs, index, fired), name=f"trigger-{index}"))
            if (index + 1) % per_step == 0:
                await asyncio.sleep(0.05 if args.ramp else 0)
        t_created = time.monotonic()
        done, pending = await asyncio.wait(tasks, timeout=args.deadline + 30)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
        t_end = time.monotonic()
        cpu_total = time.process_time() - cpu0
        crashed = [repr(t.exception()) for t in done if not t.cancelled() and t.exception() is not None]
        await asyncio.sleep(0.2)  # let finished pollers close their clients
        pollers = [t for t in asyncio.all_tasks() if t.get_name().startswith("vidgen-poller")]
        registry = poller_module._registry.get(loop, {})
        sampler_task.cancel()
        sample()
        return {
            "ids": ids,
            "fired": fired,
            "hung": len(pending),
            "crashed": crashed[:5],
            "n_crashed": len(crashed),
            "t_start": t_start,
            "t_created": t_created,
            "t_end": t_end,
            "cpu_total": cpu_total,
            "baseline_rss": baseline_rss,
            "samples": samples,
            "requests": requests_log,
            "cycles": cycle_log,
            "log_records": counting.count,
            "warnings_logged": counting.warnings,
            "pollers_left": len(pollers),
            "registry_left": len(registry),
        }

    result = asyncio.run(main())
    result["peak_rss_ru"] = _ru_maxrss()
    print(MARK + json.dumps(result), flush=True)
    return 0


def _ru_maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


# =============================================================================================
# Parent: emulator process, submissions, one worker per mode, report
# =============================================================================================


class Emulator:
    """The emulator in a child process, controlled over its HTTP control endpoints."""

    def __init__(self, max_batch_ids: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "airflow_provider_vidgen.emulator", "--port", "0", "--token", TOKEN,
                "--log-level", "error", "--max-batch-ids", str(max_batch_ids),
            ],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"the emulator did not start (got {self.url!r})")
        import httpx

        self.http = httpx.Client(base_url=self.url, timeout=30, trust_env=False)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.http.get("/_emulator/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not answer /_emulator/health")
            time.sleep(0.1)

    def configure(self, **settings: Any) -> None:
        answer = self.http.post("/_emulator/config", json=settings)
        answer.raise_for_status()

    def reset(self) -> None:
        self.http.post("/_emulator/reset").raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.http.get("/_emulator/stats").json()

    def submit(self, n: int, spread: tuple[float, float], groups: int = 20) -> list[str]:
        """N Hailuo tasks over HTTP; group g finishes after spread[0] + g * step seconds."""
        ids: list[str] = []
        groups = max(1, min(groups, n))
        for group in range(groups):
            total = spread[0] + (spread[1] - spread[0]) * (group / max(groups - 1, 1))
            self.configure(queued_seconds=round(total * 0.2, 3), running_seconds=round(total * 0.8, 3))
            count = n // groups + (1 if group < n % groups else 0)
            ids.extend(self._submit_many(count, len(ids)))
        return ids

    def _submit_many(self, count: int, offset: int) -> list[str]:
        import httpx

        async def go() -> list[str]:
            limits = httpx.Limits(max_connections=16)
            headers = {"authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, trust_env=False) as c:
                gate = asyncio.Semaphore(16)

                async def one(i: int) -> str:
                    async with gate:
                        body = {"prompt": f"nightly content prompt {offset + i}", "async": True}
                        answer = await c.post(f"/{SERVICE}/videos", json=body, timeout=30)
                        answer.raise_for_status()
                        return answer.json()["task_id"]

                return list(await asyncio.gather(*(one(i) for i in range(count))))

        return asyncio.run(go())

    def finished_at(self, ids: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        headers = {"authorization": f"Bearer {TOKEN}"}
        for start in range(0, len(ids), 100):
            body = {"action": "retrieve_batch", "ids": ids[start : start + 100]}
            answer = self.http.post(f"/{SERVICE}/tasks", json=body, headers=headers)
            answer.raise_for_status()
            for item in answer.json()["items"]:
                if item.get("finished_at") is not None:
                    found[item["id"]] = float(item["finished_at"])
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Worker:
    """One triggerer-like worker process (``--worker``) and the messages it prints."""

    def __init__(self, mode: str, args: argparse.Namespace, emulator: Emulator, home: str) -> None:
        env = dict(os.environ)
        env.update(
            {
                "AIRFLOW_HOME": home,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(
                    {
                        "conn_type": "acedata",
                        "host": emulator.url,
                        "password": TOKEN,
                        "extra": {"batch_size": args.batch_size},
                    }
                ),
            }
        )
        command = [
            sys.executable, str(Path(__file__).resolve()), "--worker",
            "--mode", "shared" if mode.startswith("shared") else "private",
            "--poll-interval", str(args.poll_interval), "--deadline", str(args.deadline), "--ramp", str(args.ramp),
            "--url", emulator.url,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        threading.Thread(target=lambda: self.errors.extend(self.process.stderr), daemon=True).start()  # type: ignore[arg-type]

    def read_message(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
            self.lines.append(line)
        raise RuntimeError(f"worker ended without a result:\n{''.join(self.lines[-20:])}{''.join(self.errors[-40:])}")

    def send_ids(self, ids: list[str]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"ids": ids}) + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


def run_mode(mode: str, args: argparse.Namespace, emulator: Emulator, home: str) -> dict[str, Any]:
    rate_limit = 0.0 if mode == "private-unlimited" else args.rate_limit
    emulator.reset()
    emulator.configure(rate_limit=0)
    worker = Worker(mode, args, emulator, home)
    try:
        worker.read_message()  # ready: imports done, baseline taken
        t_submit = time.monotonic()
        ids = emulator.submit(args.n, args.spread)
        submit_seconds = time.monotonic() - t_submit
        emulator.configure(rate_limit=rate_limit)
        before = emulator.stats()
        worker.send_ids(ids)
        result = worker.read_message()
        worker.process.wait(30)
    finally:
        worker.stop()
    after = emulator.stats()
    emulator.configure(rate_limit=0)
    finished = emulator.finished_at(ids)
    result.update(mode=mode, rate_limit=rate_limit, submit_seconds=submit_seconds)
    result["server"] = {
        key: after["counts"][key] - before["counts"][key] for key in ("retrieve", "retrieve_batch", "rate_limited")
    }
    result["server"]["ids_polled"] = after["ids_polled"] - before["ids_polled"]
    result["finished_at"] = finished
    if args.raw:
        (args.raw / f"{mode}.json").write_text(json.dumps(result))
    return summarize(result, args)


def summarize(r: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    interval = args.poll_interval
    n = len(r["ids"])
    requests = sorted(r["requests"])
    samples = r["samples"]
    statuses = [status for _, status, _ in requests]
    times = [t for t, _, _ in requests]
    per_cycle: dict[int, int] = {}
    ids_per_cycle: dict[int, int] = {}
    for index, sent, ids in r["cycles"]:
        per_cycle[index] = per_cycle.get(index, 0) + sent
        ids_per_cycle[index] = ids_per_cycle.get(index, 0) + ids
    first = times[0] if times else r["t_end"]
    window_start, window_end = first - 0.2, first - 0.2 + interval
    ids_first_window = sum(asked for t, _, asked in requests if window_start <= t < window_end)
    run_seconds = r["t_end"] - r["t_start"]
    cycles = max((r["t_end"] - window_start) / interval, 1.0)

    def cpu_at(t: float) -> float:
        before = [s for s in samples if s[0] <= t]
        return (before[-1] if before else samples[0])[1]

    cpu_window = cpu_at(window_end) - cpu_at(window_start)
    window_rss = [rss for t, _, rss in samples if window_start <= t <= window_end] or [samples[-1][2]]
    peak_rss = max(max(rss for _, _, rss in samples), r["peak_rss_ru"])
    rss_per_trigger = (max(window_rss) - r["baseline_rss"]) / n

    outcomes = {"success": 0, "timeout": 0, "error": 0, "hung": r["hung"], "crashed": r["n_crashed"]}
    task_failed = 0
    delays = []
    for task_id, fired in zip(r["ids"], r["fired"], strict=True):
        if fired is None:
            continue
        fired_at, status, state = fired
        outcomes[status] = outcomes.get(status, 0) + 1
        if status == "success" and state != "succeeded":
            task_failed += 1
        if status == "success" and task_id in r["finished_at"]:
            delays.append(fired_at - r["finished_at"][task_id])
    delays.sort()

    def pct(p: float) -> float | None:
        if not delays:
            return None
        return delays[min(len(delays) - 1, max(0, round(p / 100 * len(delays)) - 1))]

    return {
        "mode": r["mode"],
        "n": n,
        "rate_limit": r["rate_limit"],
        "requests_first_cycle": per_cycle.get(0, 0),
        "ids_first_cycle": ids_per_cycle.get(0, 0),
        "requests_max_cycle": max(per_cycle.values(), default=0),
        "fleet_cycles": len(per_cycle),
        "ids_first_window": ids_first_window,
        "requests_per_interval_mean": len(requests) / cycles,
        "requests_total": len(requests),
        "server_requests": r["server"]["retrieve"] + r["server"]["retrieve_batch"],
        "server_ids_polled": r["server"]["ids_polled"],
        "http_429": statuses.count(429),
        "server_429": r["server"]["rate_limited"],
        "transport_errors": statuses.count(0),
        "cpu_total": r["cpu_total"],
        "cpu_first_cycle": cpu_window,
        "cpu_per_1000_ids": cpu_window / max(ids_first_window, 1) * 1000,
        "peak_rss": peak_rss,
        "rss_per_trigger": rss_per_trigger,
        "delay_p50": pct(50),
        "delay_p95": pct(95),
        "delay_max": delays[-1] if delays else None,
        "outcomes": outcomes,
        "task_failed": task_failed,
        "run_seconds": run_seconds,
        "create_seconds": r["t_created"] - r["t_start"],
        "submit_seconds": r["submit_seconds"],
        "pollers_left": r["pollers_left"],
        "registry_left": r["registry_left"],
        "warnings_logged": r["warnings_logged"],
        "log_records": r["log_records"],
        "crashed": r["crashed"],
        "n_crashed": r["n_crashed"],
    }


def ids_cpu(r: dict[str, Any]) -> str:
    return f"{r['ids_first_window']:,} / {r['cpu_per_1000_ids'] * 1000:,.0f} ms"


def pair(a: int, b: int) -> str:
    return f"{a:,} / {b:,}"


def fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> int:
    names = {
        "shared": "shared polling",
        "private": "one poll per trigger",
        "private-unlimited": "one poll/trigger, no limit",
    }
    width = 28
    header = f"{'':44}" + "".join(f"{names[r['mode']]:>{width}}" for r in results)
    mb = 1024 * 1024

    def row(label: str, cells: list[str]) -> str:
        return f"{label:44}" + "".join(f"{cell:>{width}}" for cell in cells)

    def limit(r: dict[str, Any]) -> str:
        return f"{r['rate_limit']:g} req/s" if r["rate_limit"] else "none"

    print()
    print(
        f"Triggerer load: N={args.n} triggers, poll interval {args.poll_interval:g} s, batch size {args.batch_size}, "
        f"task finish times spread over {args.spread[0]:g}-{args.spread[1]:g} s, trigger deadline {args.deadline:g} s"
    )
    print(header)
    rows = [
        ("emulator rate limit (per token)", [limit(r) for r in results]),
        ("HTTP poll requests in poll cycle 1 (N ids)", [fmt(r["requests_first_cycle"]) for r in results]),
        ("  most in any cycle / poll cycles", [pair(r["requests_max_cycle"], r["fleet_cycles"]) for r in results]),
        ("  mean requests per poll interval", [fmt(r["requests_per_interval_mean"]) for r in results]),
        ("total poll requests (client / emulator)", [pair(r["requests_total"], r["server_requests"]) for r in results]),
        ("ids polled (emulator)", [fmt(r["server_ids_polled"]) for r in results]),
        ("429 received (client / emulator)", [pair(r["http_429"], r["server_429"]) for r in results]),
        ("CPU seconds, whole run", [fmt(r["cpu_total"], " s", 2) for r in results]),
        ("CPU in the first poll interval", [fmt(r["cpu_first_cycle"] * 1000, " ms", 0) for r in results]),
        ("  ids asked in it / CPU per 1,000 ids", [ids_cpu(r) for r in results]),
        ("peak RSS", [fmt(r["peak_rss"] / mb, " MB") for r in results]),
        ("RSS per waiting trigger", [fmt(r["rss_per_trigger"] / 1024, " KB") for r in results]),
        ("detection delay p50", [fmt(r["delay_p50"], " s", 2) for r in results]),
        ("detection delay p95", [fmt(r["delay_p95"], " s", 2) for r in results]),
        ("detection delay max", [fmt(r["delay_max"], " s", 2) for r in results]),
        ("events: success", [fmt(r["outcomes"]["success"]) for r in results]),
        ("events: timeout (deadline passed)", [fmt(r["outcomes"]["timeout"]) for r in results]),
        ("events: error (polling gave up)", [fmt(r["outcomes"]["error"]) for r in results]),
        ("hung (cancelled by benchmark) / crashed", [pair(r["outcomes"]["hung"], r["n_crashed"]) for r in results]),
        ("generation failed (task state)", [fmt(r["task_failed"]) for r in results]),
        ("log records (of them warnings)", [pair(r["log_records"], r["warnings_logged"]) for r in results]),
        ("wall time of the mode", [fmt(r["run_seconds"], " s") for r in results]),
        ("pollers / registry entries left at the end", [pair(r["pollers_left"], r["registry_left"]) for r in results]),
    ]  # fmt: skip
    for label, cells in rows:
        print(row(label, cells))
    for r in results:
        if r["crashed"]:
            print(f"  {r['mode']}: trigger exceptions: {r['crashed']}")

    by_mode = {r["mode"]: r for r in results}
    shared = by_mode.get("shared")
    if shared is None:
        return 0
    checks: list[tuple[str, bool]] = []
    limit_per_cycle = -(-args.n // args.batch_size) + 1
    checks.append(
        (
            f"shared: at most {limit_per_cycle} requests per poll cycle",
            shared["requests_first_cycle"] <= limit_per_cycle,
        )
    )
    private = by_mode.get("private") or by_mode.get("private-unlimited")
    if private is not None:
        ratio = private["requests_first_cycle"] / max(shared["requests_first_cycle"], 1)
        checks.append((f">= 45x fewer requests per cycle than one poll per trigger ({ratio:.0f}x)", ratio >= 45))
    ok = shared["outcomes"]["success"] == args.n and shared["task_failed"] == 0
    checks.append((f"shared: all {args.n} triggers succeeded, none failed, none timed out", ok))
    checks.append(
        (
            f"shared: RSS per waiting trigger < 20 KB ({shared['rss_per_trigger'] / 1024:.1f} KB)",
            shared["rss_per_trigger"] < 20 * 1024,
        )
    )
    per_1000 = shared["cpu_per_1000_ids"] * 1000
    checks.append((f"shared: CPU per poll cycle per 1,000 ids < 100 ms ({per_1000:.0f} ms)", per_1000 < 100))
    p95 = shared["delay_p95"]
    checks.append(
        (
            f"shared: p95 detection delay <= poll interval + 1 s ({fmt(p95, ' s', 2)})",
            p95 is not None and p95 <= args.poll_interval + 1,
        )
    )
    checks.append(("shared: poller and registry empty after the last trigger", shared["pollers_left"] == 0))
    print()
    for text, passed in checks:
        print(f"  [{'ok' if passed else 'MISSED'}] {text}")
    if "private" in by_mode:
        p = by_mode["private"]
        lost = args.n - p["outcomes"]["success"]
        print(
            f"\n  one poll per trigger at {p['rate_limit']:g} req/s: {p['http_429']:,} 429s, "
            f"{p['outcomes']['success']} succeeded, {p['outcomes']['error']} gave up (error), "
            f"{p['outcomes']['timeout']} timed out, {p['outcomes']['hung']} hung: {lost} of {args.n} tasks lost."
        )
    return 0 if all(passed for _, passed in checks) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="deferred tasks (triggers) (default 1000)")
    parser.add_argument("--poll-interval", type=float, default=15.0, help="seconds between polls (default 15)")
    parser.add_argument("--batch-size", type=int, default=50, help="ids per retrieve_batch request (default 50)")
    parser.add_argument("--rate-limit", type=float, default=20.0, help="emulator requests/s per token (default 20)")
    parser.add_argument(
        "--spread",
        type=lambda text: tuple(float(part) for part in text.split(":")),
        default=(5.0, 35.0),
        help="task durations from:to seconds after submission (default 5:35)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="trigger end_time, seconds after start (default: spread end + 3 intervals)",
    )
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which the triggers arrive (default 2)")
    parser.add_argument(
        "--modes", default="shared,private,private-unlimited", help="comma-separated (default all three)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--raw", type=Path, help="directory for the raw per-mode measurements (JSON)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="shared", help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.deadline is None:
        args.deadline = args.spread[1] + 3 * args.poll_interval
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(modes) - {"shared", "private", "private-unlimited"}
    if unknown:
        print(f"unknown mode(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    results = []
    emulator = Emulator(max_batch_ids=max(100, args.batch_size))
    try:
        with tempfile.TemporaryDirectory(prefix="vidgen-bench-home-") as home:
            for mode in modes:
                print(f"running {mode} (N={args.n}) ...", flush=True)
                results.append(run_mode(mode, args, emulator, home))
    finally:
        emulator.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return report(results, args)


if __name__ == "__main__":
    sys.exit(main())
