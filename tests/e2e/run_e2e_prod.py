"""``make e2e-prod``: the provider on the production topology, with process faults.

PostgreSQL, Redis, Airflow with the CeleryExecutor (API server, scheduler, DAG processor, two
triggerers, two Celery workers), all started here on loopback with their own data directories
(see ``prod_stack.py``), and the vendor emulator in this process. Then, one phase after another:

1. **triggerer kill**: the content pipeline and a 50-generation fan-out run; once every fan-out task
   is deferred, the triggerer holding most of their triggers is killed -9. The other triggerer must
   adopt them; every task finishes; one vendor task per generation. Prints the reassignment time
   (kill -> the trigger row names the survivor) and the pickup delay (kill -> the vendor sees the
   orphaned id polled again).
2. **worker kill**: one generation; the emulator holds the submission's answer, and the Celery worker
   running the task is killed -9 right after the answer arrived and the operator stored the vendor
   id in ``task_state_store`` (watched in the metadata DB), before it deferred. Airflow fails the try
   (heartbeat timeout), the retry reattaches: one vendor task.
3. **scheduler restart**: the scheduler is killed -9 while a 30-generation run is being submitted,
   and started again: the run finishes with one vendor task per generation.
4. **API outage**: 20 deferred generations at the operator's default ``poll_interval`` and
   ``max_poll_failures``; the emulator stops listening for ``--outage`` seconds (60), then comes back.
   Prints how the triggers took it (rode it out, or failed naming the ids and were retried) and the
   recovery time (API back -> every waiting id polled again).

5. **callbacks**: 24 generations on two connections whose ``callback_base_url`` is one API server or
   the other (two run), waiting in two triggerers with an hour's safety poll: each must be finished by
   its callback. Prints the time from a video being ready (the emulator calls back at once) to its task
   being resumed (p50, p95).

6. **limits**: the emulator enforces the vendor's published limits (5 requests in flight per token,
   submissions answered in 1 s) and 100 Hailuo videos run as four mapped batch chunks on one token, in
   two Celery workers: the leases shared through Redis keep the token within 5 in flight (the emulator's
   peak) and 429s at most 0.5% of the requests; each prompt created once.

7. **flood**: 16 generations whose callbacks go to API server 1 (an hour's safety poll), and, while those
   callbacks arrive, a process of its own (``flood.py``) posts 10,000 invalid callback URLs to that server
   (junk, random base64 shaped like a ticket, a well-formed ticket for the real connection signed with
   another key, made-up connection ids, tickets for another URL or expired, oversized and odd paths) and
   500 well-formed unsigned tickets naming made-up connection ids, over 45 s. A probe plugin loaded by API
   server 1 only (``probe/flood_probe.py``) counts secrets lookups by connection id and SQL statements by
   thread and by what ran them. Every real callback must be answered 2xx within 1 s; the invalid URLs
   cost no lookup and no statement; the crafted tickets at most the receiver's lookup budget; callback
   requests no statement outside those lookups; the real connection one lookup per key TTL, plus one.

Phase ``crash`` kills a worker *while* the emulator holds the answer (the vendor task exists,
its id never reached the worker): the retry must find the task by its request and reattach (one
vendor task), through the intent the operator records before it submits.
Every process it started is stopped in ``finally``. Exits non-zero on any failed check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: make the provider importable from the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # and the shared e2e pieces

from common import Api, Failed, Report, percentile, wait_for  # noqa: E402
from prod_stack import TOKEN, PollRecorder, ProdStack  # noqa: E402

from airflow_provider_vidgen.emulator import EmulatorServer  # noqa: E402

PIPELINE = "vidgen_content_pipeline"
PUBLISH = "vidgen_publish_videos"
FANOUT = "vidgen_fanout"
DAG_FILES = ("vidgen_content_pipeline.py", "vidgen_publish_videos.py", "content_prompts.txt")
FANOUT_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_fanout.py"
LIMITS = "vidgen_limits_chunks"
LIMITS_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_limits_chunks.py"
FINISHED = ("success", "failed")


class Run:
    """One DAG run and what the metadata DB and the emulator say about it."""

    def __init__(self, ctx: Context, dag_id: str, run_id: str, label: str | None = None, count: int = 0) -> None:
        self.ctx, self.dag_id, self.run_id, self.label, self.count = ctx, dag_id, run_id, label, count

    def tis(self, task_id: str = "generate") -> list[tuple[int, str | None, int, int | None]]:
        """(map_index, state, try_number, triggerer job id) of the run's ``task_id`` instances."""
        return self.ctx.stack.query(
            "SELECT ti.map_index, ti.state, ti.try_number, t.triggerer_id FROM task_instance ti "
            "LEFT JOIN trigger t ON t.id = ti.trigger_id "
            "WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.task_id = %s ORDER BY ti.map_index",
            (self.dag_id, self.run_id, task_id),
        )

    def state(self) -> str | None:
        rows = self.ctx.stack.query(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (self.dag_id, self.run_id)
        )
        return rows[0][0] if rows else None

    def vendor_ids(self) -> dict[int, str]:
        """map_index -> the vendor task id the operator stored in task_state_store."""
        rows = self.ctx.stack.query(
            "SELECT map_index, value FROM task_state_store WHERE dag_id = %s AND run_id = %s AND task_id = 'generate'",
            (self.dag_id, self.run_id),
        )
        found = {}
        for map_index, value in rows:
            data = _json(value)
            if isinstance(data, dict) and data.get("task_id"):
                found[map_index] = data["task_id"]
        return found

    def created(self) -> Counter[str]:
        """How many vendor tasks the emulator created per prompt of this run (label)."""
        return self.ctx.created(self.label or "")

    def wait(self, deadline: float) -> str:
        def done() -> str | None:
            self.ctx.stack.alive()
            state = self.state()
            return state if state in FINISHED else None

        return wait_for(done, deadline, f"{self.dag_id} run {self.run_id} to finish", interval=1.0)

    def check_one_each(self, report: Report, what: str) -> bool:
        created = self.created()
        extra = {prompt: n for prompt, n in created.items() if n != 1}
        return report.check(
            f"{what}: exactly one vendor task per generation",
            len(created) == self.count and not extra,
            f"{sum(created.values())} created for {self.count} generations"
            + (f"; duplicates {extra}" if extra else ""),
        )


class Context:
    def __init__(self, stack: ProdStack, api: Api, emulator: EmulatorServer, recorder: PollRecorder) -> None:
        self.stack, self.api, self.emulator, self.recorder = stack, api, emulator, recorder
        self.figures: dict[str, Any] = {}

    def created(self, label: str) -> Counter[str]:
        def count() -> Counter[str]:
            return Counter(
                str(task.request.get("prompt"))
                for task in self.emulator.state.tasks.values()
                if str(task.request.get("prompt", "")).startswith(f"{label} #")
            )

        return self.emulator._on_loop(count)

    def fanout(self, label: str, count: int, **params: Any) -> Run:
        run_id = f"{label}__{int(time.time())}"
        conf = {"count": count, "label": label, "poll_interval": 2.0, **params}
        self.api.send(
            "POST", f"/api/v2/dags/{FANOUT}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        )
        print(f"Triggered {FANOUT} {run_id}: {json.dumps(conf)}", flush=True)
        return Run(self, FANOUT, run_id, label, count)

    def wait_deferred(self, run: Run, deadline: float) -> None:
        def all_held() -> bool:
            self.stack.alive()
            rows = run.tis()
            return len(rows) == run.count and all(state == "deferred" and job for _, state, _, job in rows)

        wait_for(all_held, deadline, f"all {run.count} tasks of {run.run_id} deferred in a triggerer", interval=0.5)


def _json(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------------
# phases
# ------------------------------------------------------------------------------------------------


def phase_triggerer_kill(ctx: Context, report: Report, deadline: float) -> None:
    print("\n--- phase 1: the content pipeline and 50 deferred generations; kill -9 a triggerer ---", flush=True)
    ctx.emulator.configure(queued_seconds=2, running_seconds=60)
    # The run the scheduler would create next, so unpausing the (scheduled) pipeline adds no second run.
    logical_date = ctx.api.get(f"/api/v2/dags/{PIPELINE}").get("next_dagrun_logical_date")
    pipeline_id = f"prod__{int(time.time())}"
    ctx.api.send("POST", f"/api/v2/dags/{PIPELINE}/dagRuns", {"dag_run_id": pipeline_id, "logical_date": logical_date})
    for dag_id in (PIPELINE, PUBLISH):
        ctx.api.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    pipeline = Run(ctx, PIPELINE, pipeline_id)
    run = ctx.fanout("p1-triggerer-kill", 50)
    ctx.wait_deferred(run, deadline)
    holders = Counter(job for _, _, _, job in run.tis())
    victim_job, held = holders.most_common(1)[0]
    victim = next(name for name, job in ctx.stack.triggerer_jobs.items() if job == victim_job)
    survivor = next(name for name in ctx.stack.TRIGGERERS if name != victim)
    survivor_job = ctx.stack.triggerer_jobs[survivor]
    ids = run.vendor_ids()
    orphans = {map_index: ids[map_index] for map_index, _, _, job in run.tis() if job == victim_job}
    print(f"Triggers by triggerer job: {dict(holders)}; killing {victim} (job {victim_job}), {held} held", flush=True)
    killed = time.monotonic()
    ctx.stack.kill9(victim)

    def moved() -> bool:
        ctx.stack.alive()
        rows = {map_index: job for map_index, state, _, job in run.tis() if map_index in orphans}
        return all(job == survivor_job for job in rows.values())

    wait_for(moved, deadline, f"the orphaned triggers to move to {survivor}", interval=0.25)
    reassigned = time.monotonic() - killed

    def polled() -> bool:
        return all(ctx.recorder.first_poll_after(task_id, killed) for task_id in orphans.values())

    wait_for(polled, deadline, "every orphaned id to be polled again", interval=0.25)
    pickups = [ctx.recorder.first_poll_after(task_id, killed) - killed for task_id in orphans.values()]
    ctx.figures["reassignment_s"] = round(reassigned, 1)
    ctx.figures["pickup_delay_s"] = round(max(pickups), 1)
    report.check(
        f"{survivor} adopted the {len(orphans)} triggers of the killed {victim}",
        len(orphans) > 0,
        f"reassigned after {reassigned:.1f} s; first poll of every orphaned id after "
        f"{min(pickups):.1f}-{max(pickups):.1f} s (pickup delay)",
    )
    ctx.stack.start_triggerer(victim, deadline)  # back to two triggerers for the next phases
    for which, current in (("fan-out", run), ("content pipeline", pipeline)):
        state = current.wait(deadline)
        report.check(f"phase 1: the {which} run succeeded", state == "success", f"state {state}")
    run.check_one_each(report, "phase 1")
    retried = [map_index for map_index, _, tries, _ in run.tis() if tries > 1]
    report.check("phase 1: no fan-out task needed a retry", not retried, f"retried: {retried}")
    counts = ctx.emulator.stats()["counts"]
    pipeline_created = ctx.emulator._on_loop(
        lambda: sum(1 for t in ctx.emulator.state.tasks.values() if "e2e-prod:" in str(t.request))
    )
    report.check(
        "phase 1: the content pipeline made one vendor task per generation (2 services x 2 prompts + wan)",
        pipeline_created == 6,
        f"{pipeline_created} created; emulator counts {counts}",
    )


def phase_worker_kill(ctx: Context, report: Report, deadline: float, *, held_kill: bool = False) -> None:
    label = "p2c-crash-window" if held_kill else "p2-worker-kill"
    what = "while the emulator holds the answer" if held_kill else "after the id is stored, before deferral"
    print(f"\n--- phase 2{'c' if held_kill else ''}: kill -9 the Celery worker {what} ---", flush=True)
    ctx.emulator.configure(queued_seconds=2, running_seconds=15, submit_hold_seconds=4)
    for attempt in range(1, 4):
        run = ctx.fanout(f"{label}-{attempt}", 1)

        def held(run: Run = run) -> tuple[int, str] | None:
            ctx.stack.alive()
            if not ctx.created(run.label or ""):
                return None
            rows = ctx.stack.query(
                "SELECT pid FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = 'generate'",
                (run.dag_id, run.run_id),
            )
            pid = rows[0][0] if rows else None
            worker = ctx.stack.worker_running(pid) if pid else None
            return (pid, worker) if worker else None

        pid, worker = wait_for(held, deadline, "the submission to be held by the emulator", interval=0.05)
        if not held_kill:
            # The answer is on its way; kill as soon as the operator stored the id (it defers right after).
            limit = time.monotonic() + 15
            while time.monotonic() < limit and not run.vendor_ids():
                pass
        state_at_kill = run.tis()[0][1]
        ctx.stack.kill9(worker)
        killed = time.monotonic()
        stored = bool(run.vendor_ids())
        print(f"Killed {worker} (task pid {pid}); id stored: {stored}; task state then: {state_at_kill}", flush=True)
        ctx.stack.start_worker(worker, deadline)
        ctx.emulator.configure(submit_hold_seconds=0)
        state = run.wait(deadline)
        ((_, _, tries, _),) = run.tis()
        recovered = time.monotonic() - killed
        hit = tries > 1
        if not hit and attempt < 3 and not held_kill:
            print(f"  the kill missed the window (try {tries} went on); again", flush=True)
            ctx.emulator.configure(submit_hold_seconds=4)
            continue
        created = sum(run.created().values())
        if held_kill:
            # The vendor created the task, the worker died before the answer reached it: only the intent
            # was recorded. The retry must find the task by its request and reattach, not pay again.
            ctx.figures["crash_window_created"] = created
            report.check(
                "phase 2c: a worker killed while the vendor's answer was on its way: the retry found the task "
                "by its request and reattached (one vendor task)",
                state == "success" and hit and created == 1,
                f"state {state}, try {tries}, {created} vendor task(s), {recovered:.0f} s after the kill",
            )
            return
        report.check(
            "phase 2: after the worker kill the run succeeded through a retry",
            state == "success" and hit,
            f"state {state}, try {tries}, {recovered:.0f} s after the kill (heartbeat timeout 20 s + retry)",
        )
        run.check_one_each(report, "phase 2")
        ctx.figures["worker_kill_recovery_s"] = round(recovered, 1)
        return


def phase_scheduler_restart(ctx: Context, report: Report, deadline: float) -> None:
    print("\n--- phase 3: kill -9 and restart the scheduler mid-run ---", flush=True)
    ctx.emulator.configure(queued_seconds=2, running_seconds=15)
    run = ctx.fanout("p3-scheduler-restart", 30)

    def some_submitted() -> bool:
        ctx.stack.alive()
        return len(ctx.created(run.label or "")) >= 5

    wait_for(some_submitted, deadline, "the first submissions", interval=0.1)
    before = len(ctx.created(run.label or ""))
    ctx.stack.kill9("scheduler")
    ctx.stack.spawn("scheduler", ["airflow", "scheduler"])
    print(f"Scheduler killed -9 with {before}/30 submitted, and started again", flush=True)
    state = run.wait(deadline)
    report.check("phase 3: the run succeeded across the scheduler restart", state == "success", f"state {state}")
    run.check_one_each(report, "phase 3")


def phase_callbacks(ctx: Context, report: Report, deadline: float) -> None:
    print("\n--- phase 5: 24 generations finished by callbacks to two API servers, waiting in two triggerers ---")
    ctx.emulator.configure(queued_seconds=2, running_seconds=20)  # every task deferred before its callback
    before = ctx.emulator.stats()["counts"]
    runs = [
        ctx.fanout(f"p5-callbacks-{number}", 12, conn_id=f"acedata_callbacks_{number}", safety_poll_interval=3600.0)
        for number in (1, 2)
    ]
    holders: set[int] = set()
    for run in runs:
        ctx.wait_deferred(run, deadline)
        holders |= {job for _, _, _, job in run.tis() if job is not None}
    states = [run.wait(deadline) for run in runs]
    ready = ctx.emulator.finish_times()
    delivered = ctx.emulator.delivered_callbacks()
    lags = []
    for run in runs:
        ids = run.vendor_ids()
        rows = ctx.stack.query(
            "SELECT map_index, scheduled_dttm FROM task_instance WHERE dag_id = %s AND run_id = %s "
            "AND task_id = 'generate'",
            (run.dag_id, run.run_id),
        )
        lags += [when.timestamp() - ready[ids[index]] for index, when in rows if index in ids]
    p50, p95 = percentile(lags, 0.5), percentile(lags, 0.95)
    counts = ctx.emulator.stats()["counts"]
    reads = sum(counts[kind] - before[kind] for kind in ("retrieve", "retrieve_batch"))
    ids = [task_id for run in runs for task_id in run.vendor_ids().values()]
    ctx.figures["callback_resume_p50_s"] = round(p50, 2)
    ctx.figures["callback_resume_p95_s"] = round(p95, 2)
    report.check(
        "phase 5: every generation finished by its callback (the safety poll is an hour), through either API "
        "server, from either triggerer",
        states == ["success", "success"] and len(ids) == 24 and all(task_id in delivered for task_id in ids),
        f"states {states}; callbacks answered {sum(task_id in delivered for task_id in ids)}/24; triggers held "
        f"by {len(holders)} triggerer(s)",
    )
    report.check(
        "phase 5: resumed within 2 s of the video being ready (p95), with two API servers and two triggerers",
        p95 <= 2.0,
        f"ready -> resumed p50 {p50:.2f} s, p95 {p95:.2f} s over {len(lags)} tasks",
    )
    report.check(
        "phase 5: while waiting, one status request per task at most (its first poll, then its confirmation)",
        reads <= 2 * len(ids),
        f"{reads} retrieve/retrieve_batch requests for {len(ids)} tasks",
    )
    for run in runs:
        run.check_one_each(report, "phase 5")


def phase_outage(ctx: Context, report: Report, deadline: float, outage: float) -> None:
    print(f"\n--- phase 4: the vendor API unreachable for {outage:.0f} s (operator default polling) ---", flush=True)
    ctx.emulator.configure(queued_seconds=2, running_seconds=outage + 30)
    run = ctx.fanout("p4-outage", 20, poll_interval=15.0, max_poll_failures=5)  # the operator's defaults
    ctx.wait_deferred(run, deadline)
    ids = run.vendor_ids()
    wait_for(lambda: all(ctx.recorder.last_poll(i) for i in ids.values()), deadline, "a first poll of every id")
    ctx.emulator.stop()
    down = time.monotonic()
    print(f"Emulator stopped (connections refused) at {time.strftime('%X')}", flush=True)
    failed_during = set()
    while time.monotonic() < down + outage:  # the outage lasts this long, whatever happens meanwhile
        ctx.stack.alive()
        failed_during |= {m for m, state, _, _ in run.tis() if state in ("up_for_retry", "failed")}
        time.sleep(1.0)
    ctx.emulator.start()
    up = time.monotonic()
    print(f"Emulator back after {up - down:.0f} s", flush=True)

    def all_polled() -> bool:
        current = run.vendor_ids()
        return all(ctx.recorder.first_poll_after(task_id, up) for task_id in current.values())

    wait_for(all_polled, deadline, "every id polled after the outage", interval=0.25)
    recovery = max(ctx.recorder.first_poll_after(t, up) - up for t in run.vendor_ids().values())
    state = run.wait(deadline)
    rows = run.tis()
    retried = sorted({m for m, _, tries, _ in rows if tries > 1} | failed_during)
    ctx.figures["outage_recovery_s"] = round(recovery, 1)
    ctx.figures["outage_retried_tasks"] = len(retried)
    report.check(
        "phase 4: every generation delivered after the outage",
        state == "success",
        f"state {state}; every id polled again {recovery:.1f} s after the API came back; "
        + ("every trigger rode it out (no retry)" if not retried else f"{len(retried)} task(s) failed and retried"),
    )
    run.check_one_each(report, "phase 4")
    if retried:
        text = ctx.stack.query(
            "SELECT count(*) FROM task_instance_history WHERE dag_id = %s AND run_id = %s AND state = 'failed'",
            (run.dag_id, run.run_id),
        )
        print(f"  note: the defaults did not ride out {outage:.0f} s; failed tries recorded: {text[0][0]}", flush=True)


FLOOD_SCRIPT = Path(__file__).resolve().parent / "flood.py"
FLOOD_CONN = "acedata_callbacks_1"  # its callback_base_url is API server 1, the one flooded (and probed)
FLOOD_BUDGET = 240.0  # seconds the flood phase may take (it takes about 90)


def _probe(ctx: Context) -> dict[str, Any]:
    import httpx

    return httpx.get(f"{ctx.stack.probe_url}/counts", timeout=10).json()


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


def _lookups(snapshot: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter({(conn_id, who): n for conn_id, who, n in snapshot["lookups"]})


def phase_flood(ctx: Context, report: Report, deadline: float, args: argparse.Namespace) -> None:
    from airflow_provider_vidgen.plugins.callbacks import KEY_TTL_SECONDS, LOOKUP_BURST, LOOKUP_EVERY_SECONDS

    print(
        f"\n--- phase 7: {args.flood_invalid:,} invalid callback URLs and {args.flood_crafted} crafted tickets flood "
        "API server 1 while real callbacks arrive ---",
        flush=True,
    )
    deadline = min(deadline, time.monotonic() + FLOOD_BUDGET)
    wait_for(lambda: _probe(ctx), deadline, "the flood probe in API server 1")
    # 16 real callbacks to API server 1, 22 s after each submission: the flood starts once every generation
    # is submitted (they start over a few seconds, more on a loaded machine), so they arrive during it; each
    # task waits with an hour's safety poll, so only its callback finishes it.
    ctx.emulator.configure(queued_seconds=2, running_seconds=20)
    stats = ctx.emulator.stats()["counts"]
    answered_before = len(ctx.emulator.callback_answer_times())
    run = ctx.fanout("p7-flood", 16, conn_id=FLOOD_CONN, safety_poll_interval=3600.0)
    runs = [run]
    first = wait_for(lambda: ctx.stack.alive() or (run.created() and time.monotonic()), deadline, "a submission")
    wait_for(lambda: ctx.stack.alive() or len(run.created()) == run.count, deadline, "every submission", 0.2)
    spread = time.monotonic() - first
    before = _probe(ctx)
    flood = subprocess.Popen(
        [sys.executable, str(FLOOD_SCRIPT), "--url", ctx.stack.api_url, "--real-conn", FLOOD_CONN,
         "--invalid", str(args.flood_invalid), "--crafted", str(args.flood_crafted),
         "--seconds", str(args.flood_seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out, _ = flood.communicate(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
        flood.kill()
        flood.wait()
        raise Failed("the flood did not end within the phase's budget") from None
    if flood.returncode:
        raise Failed(f"the flood process exited with {flood.returncode}")
    after = _probe(ctx)
    result = json.loads(out.strip().splitlines()[-1])
    started, ended, seconds = result["started"], result["ended"], result["seconds"]
    print(f"Flood: {json.dumps(result)}", flush=True)
    states = [run.wait(deadline) for run in runs]
    window = after["at"] - before["at"]  # what the probe's counts below cover

    # Real callbacks: every one answered 2xx within 1 s, all while the flood ran.
    counts = ctx.emulator.stats()["counts"]
    sent, failed, refused = (counts[kind] - stats[kind] for kind in ("callback", "callback_failed", "callback_refused"))
    answer_times = ctx.emulator.callback_answer_times()[answered_before:]
    slowest = max(answer_times, default=float("nan"))
    delivered = ctx.emulator.delivered_callbacks()
    ids = [task_id for run in runs for task_id in run.vendor_ids().values()]
    during = sum(started <= delivered.get(task_id, 0) <= ended for task_id in ids)
    moments = sorted(delivered[task_id] - started for task_id in ids if task_id in delivered)
    report.check(
        "phase 7: every real callback to the flooded API server answered 2xx within 1 s",
        sent == len(ids) == 16 and not failed and not refused and len(answer_times) == sent and slowest <= 1.0,
        f"{sent} sent for {len(ids)} generations, {failed} failed, {refused} answered non-2xx; answer max "
        f"{slowest * 1000:.0f} ms, p50 {percentile(answer_times, 0.5) * 1000:.0f} ms; {during} of {len(ids)} "
        f"answered while the flood ran",
    )
    report.check(
        "phase 7: the real callbacks arrived while the flood ran, and finished their tasks (safety poll an hour)",
        states == ["success"] and during == len(ids),
        f"state {states[0]}; answered {moments[0]:.1f}-{moments[-1]:.1f} s into the {seconds:.0f} s flood, which "
        f"started {spread:.1f} s after the first submission"
        if moments
        else f"state {states[0]}; no callback answered",
    )
    for run in runs:
        run.check_one_each(report, "phase 7")

    # The flood: every URL turned away, none with a 5xx.
    answers: Counter[str] = Counter()
    for by_status in result["answers"].values():
        answers.update(by_status)
    total = args.flood_invalid + args.flood_crafted
    seen = _delta(after["callback_answers"], before["callback_answers"])  # what API server 1 answered, by status
    report.check(
        f"phase 7: the flood's {total:,} URLs were all turned away (4xx, no 5xx, no broken connection)",
        result["sent"] == total
        and all(status.isdigit() and 400 <= int(status) < 500 for status in answers)
        and sum(seen.values()) >= total,
        f"{result['sent']:,} sent in {seconds:.1f} s, answered {dict(answers)}; answer p50 "
        f"{result['answer_p50_ms']} ms, p99 {result['answer_p99_ms']} ms, max {result['answer_max_ms']} ms; the "
        f"probe saw {sum(seen.values()):,} callback requests {seen}",
    )

    # Secrets lookups during the flood, by connection id.
    looked = _lookups(after) - _lookups(before)
    invalid = {key: n for key, n in looked.items() if key[0].startswith("flood-") and "crafted" not in key[0]}
    crafted = sum(n for (conn_id, _), n in looked.items() if conn_id.startswith("flood-crafted-"))
    real_requests = looked[(FLOOD_CONN, "request")]
    others = {f"{c} ({who})": n for (c, who), n in looked.items() if not c.startswith("flood-")}
    allowed_crafted = LOOKUP_BURST + window / LOOKUP_EVERY_SECONDS + 2
    report.check(
        "phase 7: no secrets lookup for any invalid URL",
        not invalid,
        f"lookups of the invalid kinds' ids: {sum(invalid.values())}" + (f" {dict(invalid)}" if invalid else ""),
    )
    report.check(
        f"phase 7: crafted tickets for made-up ids cost at most the lookup budget ({LOOKUP_BURST} + 1 per "
        f"{LOOKUP_EVERY_SECONDS:.0f} s + 2)",
        crafted <= allowed_crafted,
        f"{crafted} lookups for {args.flood_crafted} crafted tickets over {window:.1f} s (allowed "
        f"{allowed_crafted:.1f})",
    )
    windows = int(window // KEY_TTL_SECONDS) + 1
    times = sorted(t for t, conn_id, who in after["lookup_log"] if conn_id == FLOOD_CONN and who == "request"
                   and t >= before["at"])  # fmt: skip
    at_once = max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)
    report.check(
        f"phase 7: the real connection looked up by the receiver at most once per key TTL ({KEY_TTL_SECONDS:.0f} s) "
        "+ 1",
        real_requests <= windows + 1,
        f"{real_requests} lookups by requests over {window:.1f} s (allowed {windows + 1}), at most {at_once} within "
        f"one second; other lookups: {others or 'none'}",
    )

    # SQL during the flood: none while handling a callback request, outside a (budgeted) lookup.
    sql = _delta(after["sql"], before["sql"])
    in_callbacks = _delta(after["sql_in_callbacks"], before["sql_in_callbacks"])
    in_lookups = _delta(after["sql_in_lookups"], before["sql_in_lookups"])
    invalid_sql = {c: n for c, n in in_lookups.items() if c.startswith("flood-") and "crafted" not in c}
    report.check(
        "phase 7: no SQL statement in request handling for the flood (outside budgeted lookups), none for an "
        "invalid URL",
        not sql.get("callback_request") and not invalid_sql,
        f"statements during the flood: {sql.get('callback_request', 0)} in callback requests"
        + (f" {in_callbacks}" if in_callbacks else "")
        + f", {sql.get('lookup', 0)} inside secrets lookups (crafted ids' metastore misses: "
        f"{sum(n for c, n in in_lookups.items() if c.startswith('flood-crafted-'))}; invalid ids: "
        f"{sum(invalid_sql.values())}), {sql.get('confirmer', 0)} in the confirmer's thread, "
        f"{sql.get('other_request', 0)} in other requests (the execution API), {sql.get('background', 0)} "
        f"elsewhere; by thread {_delta(after['sql_by_thread'], before['sql_by_thread'])}",
    )
    ctx.figures.update(
        {
            "flood_requests": result["sent"],
            "flood_seconds": seconds,
            "flood_answer_p99_ms": result["answer_p99_ms"],
            "flood_invalid_lookups": sum(invalid.values()),
            "flood_crafted_lookups": crafted,
            "flood_real_conn_lookups": real_requests,
            "flood_callback_request_sql": sql.get("callback_request", 0),
            "flood_lookup_sql": sql.get("lookup", 0),
            "flood_confirmer_sql": sql.get("confirmer", 0),
            "flood_real_callback_answer_max_s": round(slowest, 3),
        }
    )


def phase_limits(ctx: Context, report: Report, deadline: float) -> None:
    print("\n--- phase 6: 100 Hailuo as 4 chunks on one token, the emulator enforcing the vendor's limits ---")
    ctx.emulator.reset()  # the last phase: the in-flight peak and the 429s are this phase's alone
    ctx.emulator.configure(enforce_limits=True, submit_latency=1.0, queued_seconds=2, running_seconds=4)
    run = Run(ctx, LIMITS, f"p6-limits__{int(time.time())}", "p6-limits", 100)
    ctx.api.trigger(LIMITS, run.run_id)
    state = run.wait(deadline)
    stats = ctx.emulator.stats()
    ctx.emulator.configure(enforce_limits=False, submit_latency=0.0)
    requests = sum(stats["counts"][kind] for kind in ("submit", "retrieve", "retrieve_batch", "delete"))
    refused = sum(stats["answers_429"].values())
    peak = stats["in_flight"].get("token-0", {}).get("video", {}).get("peak", 0)
    ctx.figures.update({"limits_peak_in_flight": peak, "limits_429_share": round(refused / max(requests, 1), 4)})
    report.check("phase 6: the run succeeded with the limits enforced", state == "success", f"state {state}")
    report.check(
        "phase 6: at most 5 requests in flight on the token (emulator's peak), 429s <= 0.5% of requests",
        0 < peak <= 5 and refused <= 0.005 * requests,
        f"peak {peak} in flight; {refused} 429s of {requests} requests ({stats['answers_429']})",
    )
    run.check_one_each(report, "phase 6")


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------


def run(work: Path, report: Report, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + args.budget
    (work / "dags").mkdir(parents=True)
    (work / "logs").mkdir()
    for name in DAG_FILES:
        shutil.copy(REPO / "dags_examples" / name, work / "dags" / name)
    shutil.copy(FANOUT_DAG, work / "dags" / FANOUT_DAG.name)
    shutil.copy(LIMITS_DAG, work / "dags" / LIMITS_DAG.name)
    print(f"Work folder: {work} (logs in logs/)", flush=True)

    emulator = EmulatorServer(token=TOKEN, queued_seconds=2, running_seconds=4)
    recorder = PollRecorder(emulator.app)
    emulator.app = recorder
    emulator.start()
    phases = args.phases.split(",")
    stack = ProdStack(work, emulator.url, probe="flood" in phases)
    try:
        stack.start_databases(deadline)
        print(f"PostgreSQL and Redis up after {time.monotonic() - started:.0f} s", flush=True)
        stack.start_airflow(deadline)
        api = Api(stack.api_url)
        wait_for(
            lambda: stack.alive() or api.client.get("/api/v2/monitor/health").status_code == 200, deadline, "the API"
        )
        api.login(stack.home, deadline)
        dags = (PIPELINE, PUBLISH, FANOUT, LIMITS)
        wait_for(
            lambda: stack.alive() or all(api.client.get(f"/api/v2/dags/{d}").status_code == 200 for d in dags),
            deadline,
            "the DAGs to be parsed",
        )
        report.check("DAGs parsed without import errors", not api.get("/api/v2/importErrors")["import_errors"])
        api.send("PATCH", f"/api/v2/dags/{FANOUT}", {"is_paused": False})
        print(f"Airflow (CeleryExecutor, 2 triggerers, 2 workers) up after {time.monotonic() - started:.0f} s")
        ctx = Context(stack, api, emulator, recorder)
        if "triggerer" in phases:
            phase_triggerer_kill(ctx, report, deadline)
        if "worker" in phases:
            phase_worker_kill(ctx, report, deadline)
        if "crash" in phases:
            phase_worker_kill(ctx, report, deadline, held_kill=True)
        if "scheduler" in phases:
            phase_scheduler_restart(ctx, report, deadline)
        if "callbacks" in phases:
            phase_callbacks(ctx, report, deadline)
        if "outage" in phases:
            phase_outage(ctx, report, deadline, args.outage)
        if "limits" in phases:
            phase_limits(ctx, report, deadline)
        if "flood" in phases:
            phase_flood(ctx, report, deadline, args)
        return ctx.figures
    finally:
        print("Stopping every process started ...", flush=True)
        left = stack.stop_all()
        emulator.stop()
        report.check("every started process stopped", not left, f"still running: {left}" if left else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, DB, videos)")
    parser.add_argument("--budget", type=float, default=780.0, help="seconds before giving up (default 780)")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the vendor API is unreachable")
    parser.add_argument(
        "--phases",
        default="triggerer,worker,crash,scheduler,callbacks,outage,limits,flood",
        help="which phases, comma-separated (crash: kill a worker while the vendor's answer is held)",
    )
    parser.add_argument("--flood-invalid", type=int, default=10_000, help="invalid callback URLs (flood phase)")
    parser.add_argument("--flood-crafted", type=int, default=500, help="crafted tickets for made-up connection ids")
    parser.add_argument("--flood-seconds", type=float, default=45.0, help="the flood is spread over this long")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="vidgen-e2e-prod-"))
    report = Report()
    figures: dict[str, Any] = {}
    error = None
    try:
        figures = run(work, report, args)
    except Failed as err:
        error = str(err)
    except Exception as err:  # report, clean up, exit non-zero
        error = f"{type(err).__name__}: {err}"
    if error:
        report.check("no error", False, error)
    elapsed = time.monotonic() - started
    failed = [name for ok, name, _ in report.rows if not ok]
    print(f"\nFigures: {json.dumps(figures)}")
    print(
        f"{'PASS' if report.ok else 'FAIL'}: e2e-prod, {len(report.rows) - len(failed)}/{len(report.rows)} "
        f"checks passed in {elapsed:.0f} s" + (f"; failed: {failed}" if failed else "")
    )
    (work / "report.json").write_text(json.dumps({"figures": figures, "checks": report.rows, "seconds": elapsed}))
    if args.keep or not report.ok:
        print(f"Kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
