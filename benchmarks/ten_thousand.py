"""10,000 videos a night: N prompts as mapped batch chunks on one rate-limited token, shared pace vs not.

    python benchmarks/ten_thousand.py [--topology standalone|prod] [--n 10000] [--rate 20] [--render 20]

One emulator limits the token to ``--rate`` requests/s (a sliding one-second window), keeps the vendor's
published limits (5 requests in flight per token; ``--no-vendor-limits`` turns that off) and renders every
video in ``--render`` s. The DAGs (``benchmarks/dags/vidgen_10k.py``) map a ``HailuoBatchVideoOperator``
over chunks of 1,000 (``batch_chunks``), then a summary reads every chunk's results as one list. Both modes
run one after the other in the same run of this script, on the same Airflow:

* ``shared``: the connection's ``shared_pace`` is ``auto``: on ``standalone`` every process of the machine
  shares the token's pace (a lock file), on ``prod`` every worker and triggerer shares it through the
  Celery broker's Redis;
* ``unshared``: ``shared_pace=process``: each chunk paces itself alone at the token's rate (10 tasks at
  20 requests/s each on a token that allows 20);
* ``callbacks`` (ask for it with ``--modes``): as ``shared``, and the connection has a ``callback_base_url``
  (the API server): the emulator calls every task back, the receiver confirms and resumes the chunks,
  and the triggerer only keeps its safety poll. ``--n 1000 --chunk 50 --modes shared,callbacks`` compares
  it with polling: vendor requests while waiting, and seconds from a chunk's last video being ready (the
  emulator calls back at that moment) to the chunk task being resumed (its ``scheduled_when``) and to its
  end (p50, p95 over the chunks), and how long each callback took to be answered (p50, p99, max; the
  emulator gives each 5 s, as a webhook client does). ``make bench`` runs that comparison too.

Topologies: ``standalone`` (``airflow standalone``: SQLite, LocalExecutor, one triggerer) and ``prod``
(the ``make e2e-prod`` stack: PostgreSQL, Redis, CeleryExecutor with two workers, two triggerers).

Printed side by side: wall time against the floor ``N / rate + render + one poll``; 429s (share of all
requests); videos created and submit requests per prompt; the most requests the emulator saw in any one
second and the seconds above the limit; Airflow CPU-s per video; the triggerers' memory per waiting item
(peak RSS while all N wait, minus RSS before the run, over N); the largest XCom of the run.
Targets (shared): wall <= floor + 120 s, 429s <= 0.5%, exactly one submission per prompt, at most one
second above the limit, largest XCom < 1 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.append(str(REPO / "tests" / "e2e"))

from batch_vs_mapped import _seconds, group_cpu_seconds, start_standalone  # noqa: E402
from common import Api, Failed, free_ports, percentile, proc_stats, stop_group, wait_for  # noqa: E402

from airflow_provider_vidgen.emulator import EmulatorServer  # noqa: E402

MODES = ("shared", "unshared", "callbacks")
WEBHOOK_TIMEOUT_SECONDS = 5.0  # the emulator gives each callback this long to be answered, as webhook clients do
PAGE = os.sysconf("SC_PAGE_SIZE")


def connection(url: str, token: str, rate: float, shared_pace: str = "auto", **more: Any) -> str:
    """An ``acedata`` connection (an ``AIRFLOW_CONN_...`` value) on the emulator, paced at ``rate``."""
    extra = {
        # The emulator's limit counts every request, polls too: they share it without a pace of their own.
        "max_requests_per_second": rate, "max_polls_per_second": rate, "batch_size": 100,
        "shared_pace": shared_pace, **more,
    }  # fmt: skip
    return json.dumps({"conn_type": "acedata", "host": url, "password": token, "extra": extra})


def connections(url: str, token: str, rate: float, api_url: str) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_ACEDATA_SHARED": connection(url, token, rate, "auto"),
        "AIRFLOW_CONN_ACEDATA_UNSHARED": connection(url, token, rate, "process"),
        "AIRFLOW_CONN_ACEDATA_CALLBACKS": connection(url, token, rate, "auto", callback_base_url=api_url),
    }


def render_settings(render: float) -> dict[str, float]:
    """The emulator's settings for videos that are ready ``render`` s after submission (queued, then running)."""
    queued = min(5.0, render / 4)
    return {"queued_seconds": queued, "running_seconds": render - queued}


def triggerer_rss() -> int:
    """Resident bytes of every ``airflow triggerer`` process on the machine."""
    total = 0
    for pid, fields in proc_stats():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"triggerer" in cmdline and b"airflow" in cmdline and len(fields) > 21:
            total += int(fields[21]) * PAGE  # rss in pages: field 24 of /proc/<pid>/stat (fields start at 3)
    return total


class Topology:
    """What a mode's run needs from the Airflow it runs on."""

    api: Api

    def cpu_seconds(self) -> float:
        raise NotImplementedError

    def largest_xcom(self, run_id: str) -> int:
        raise NotImplementedError


class Standalone(Topology):
    """``airflow standalone`` (SQLite, LocalExecutor, one triggerer) with the e2e run's environment, made
    patient for a loaded machine, plus ``settings(api_url)`` (connections, the DAGs' settings), up and with
    ``dag_ids`` parsed."""

    def __init__(
        self,
        work: Path,
        emulator: EmulatorServer,
        dag_ids: Sequence[str],
        settings: Callable[[str], dict[str, str]],
        deadline: float,
    ):
        from run_e2e import airflow_env

        api_port, worker_log, trigger_log = free_ports(3)
        api_url = f"http://127.0.0.1:{api_port}"
        env = airflow_env(work, emulator.url, api_port, (worker_log, trigger_log))
        env.update(settings(api_url))
        patient_sqlite(work, env)
        patient_execution_api(env)
        self.work = work
        self.api = Api(api_url)
        self.process = start_standalone(work, env, self.api, tuple(dag_ids), deadline)

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.process.pid)

    def largest_xcom(self, run_id: str) -> int:
        with sqlite3.connect(self.work / "airflow_home" / "airflow.db") as db:
            row = db.execute("SELECT max(length(value)) FROM xcom WHERE run_id = ?", (run_id,)).fetchone()
        return int(row[0] or 0)

    def stop(self) -> None:
        stop_group(self.process)


def patient_sqlite(work: Path, env: dict[str, str]) -> None:
    """As benchmarks/batch_vs_mapped.py: ten tasks writing their ledgers at once wait for SQLite's lock
    (Python's default of 5 s fails them with "database is locked")."""
    (work / "bench_sqlite.py").write_text("CONNECT_ARGS = {'timeout': 60.0}\n")
    env["PYTHONPATH"] = os.pathsep.join([str(work), env["PYTHONPATH"]])
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = "bench_sqlite.CONNECT_ARGS"
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"] = "bench_sqlite.CONNECT_ARGS"


def patient_execution_api(env: dict[str, str]) -> None:
    """Task processes wait up to 30 s for the one API server's execution API (Airflow's default: 5 s).

    On 2 busy cores, with tasks starting while callbacks and other tasks' execution-API calls queue on
    SQLite's lock, a task's ``PATCH .../run`` comes near 5 s (up to 5.7 s by the API server's access log).
    Past the timeout the task SDK gives up on it and retries; the first attempt had already marked the task
    instance running, so the retry is answered 409 "already running" and the task process exits without
    running the operator: a chunk that never submits (the likely cause of one failed run, not reproduced).
    ``--execution-api-timeout 5`` runs with Airflow's default."""
    env.setdefault("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "30")


class Prod(Topology):
    def __init__(
        self,
        work: Path,
        emulator: EmulatorServer,
        dag_ids: Sequence[str],
        settings: Callable[[str], dict[str, str]],
        deadline: float,
    ):
        from prod_stack import ProdStack

        self.stack = ProdStack(work, emulator.url, worker_concurrency=8)
        extra = settings(self.stack.api_url)
        original = self.stack.env
        self.stack.env = lambda name=None: {**original(name), **extra}  # type: ignore[method-assign]
        self.stack.start_databases(deadline)
        self.stack.start_airflow(deadline)
        self.api = Api(self.stack.api_url)
        wait_for(lambda: self.api.client.get("/api/v2/monitor/health").status_code == 200, deadline, "the API")
        self.api.login(self.stack.home, deadline)
        wait_for(
            lambda: all(self.api.client.get(f"/api/v2/dags/{dag_id}").status_code == 200 for dag_id in dag_ids),
            deadline,
            "the DAGs",
        )

    def cpu_seconds(self) -> float:
        return sum(group_cpu_seconds(p.pid) for name, p in self.stack.procs.items() if name not in ("pg", "redis"))

    def largest_xcom(self, run_id: str) -> int:
        rows = self.stack.query("SELECT max(octet_length(value::text)) FROM xcom WHERE run_id = %s", (run_id,))
        return int(rows[0][0] or 0)

    def stop(self) -> None:
        self.stack.stop_all()


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        "VIDGEN_BENCH_N": str(args.n),
        "VIDGEN_BENCH_POLL": str(args.poll),
        "VIDGEN_BENCH_CHUNK": str(args.chunk),
        "AIRFLOW__CORE__MAX_MAP_LENGTH": "4096",
        # Enough worker slots that a resumed chunk does not queue behind chunks still submitting.
        "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    } | (
        {"AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": str(args.execution_api_timeout)}
        if args.execution_api_timeout
        else {}
    )


def run_dag(
    api: Api,
    emulator: EmulatorServer,
    dag_id: str,
    label: str,
    deadline: float,
    each: Callable[[], None] = lambda: None,
) -> tuple[str, dict[str, Any]]:
    """Trigger a run of ``dag_id`` on a freshly reset emulator and wait for it to end, calling ``each``
    every 2 s meanwhile; its run id and the run as the API reads it."""
    emulator.reset()
    run_id = f"bench_{label}_{int(time.time())}"
    api.send("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None})
    api.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    print(f"[{label}] triggered {dag_id} run {run_id}", flush=True)
    last_print = 0.0
    while True:
        if time.monotonic() > deadline:
            raise Failed(f"{label}: the run did not finish in time")
        try:
            run = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        except (httpx.HTTPError, Failed) as err:  # a busy API server (SQLite) answers late: ask again
            print(f"[{label}] API read failed ({type(err).__name__}); retrying", flush=True)
            time.sleep(2)
            continue
        each()
        if time.monotonic() - last_print > 30:
            stats = emulator.stats()
            print(
                f"[{label}] {run['state']}: {stats['tasks']} submitted, {stats['counts']['rate_limited']} 429s",
                flush=True,
            )
            last_print = time.monotonic()
        if run["state"] in ("success", "failed"):
            return run_id, run
        time.sleep(2)


def run_seconds(run: dict[str, Any]) -> float:
    """The run's wall time: its start to its end, as Airflow stamped them."""
    return _seconds(run["end_date"]) - _seconds(run["start_date"])


def callback_figures(emulator: EmulatorServer) -> dict[str, Any]:
    """What the emulator saw of its callbacks since its last reset: how many it sent, how many were answered
    2xx (every answer in time and 2xx; a timeout or another status is not), and how long each took to be
    answered (ms; a timeout counts its whole wait)."""
    counts = emulator.stats()["counts"]
    answers = emulator.callback_answer_times()
    not_2xx = counts["callback_failed"] + counts["callback_refused"]
    return {
        "callbacks_answered": len(emulator.delivered_callbacks()),
        "callbacks_sent": len(answers),
        "callbacks_2xx": len(answers) - not_2xx,
        "callbacks_not_2xx": not_2xx,
        "answer_p50_ms": 1000 * percentile(answers, 0.5),
        "answer_p99_ms": 1000 * percentile(answers, 0.99),
        "answer_max_ms": 1000 * max(answers, default=float("nan")),
    }


def run_mode(top: Topology, emulator: EmulatorServer, mode: str, n: int, deadline: float) -> dict[str, Any]:
    dag_id = f"bench_10k_{mode}"
    cpu_before, rss_before, rss_peak = top.cpu_seconds(), triggerer_rss(), 0

    def sample_rss() -> None:
        nonlocal rss_peak
        rss_peak = max(rss_peak, triggerer_rss())

    run_id, run = run_dag(top.api, emulator, dag_id, mode, deadline, each=sample_rss)
    stats = emulator.stats()
    counts = stats["counts"]
    requests = sum(counts[kind] for kind in ("submit", "retrieve", "retrieve_batch", "delete"))
    rates = next(iter(stats["rates"].values()), {"peak_per_second": 0, "seconds_over_limit": 0})
    tis = top.api.task_instances(dag_id, run_id)
    failed = [f"{ti['task_id']}[{ti['map_index']}]" for ti in tis if ti["state"] != "success"]
    resumed, ended = after_ready(top.api, emulator, dag_id, run_id, tis)
    summary = None
    if not failed:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/summarize/xcomEntries/return_value"
        summary = top.api.get(path, deserialize=True, stringify=False)["value"]
    return {
        "state": run["state"],
        "wall": run_seconds(run),
        "http_429": counts["rate_limited"],
        "share_429": counts["rate_limited"] / max(requests, 1),
        "tasks_per_prompt": stats["tasks_created"] / n,
        "submits_per_prompt": counts["submit"] / n,
        "peak_per_second": rates["peak_per_second"],
        "seconds_over_limit": rates["seconds_over_limit"],
        "peak_in_flight": max(
            (group["peak"] for groups in stats.get("in_flight", {}).values() for group in groups.values()), default=0
        ),
        "cpu_per_video": (top.cpu_seconds() - cpu_before) / n,
        "bytes_per_waiting_item": max(rss_peak - rss_before, 0) / n,
        "largest_xcom": top.largest_xcom(run_id),
        "wait_requests": counts["retrieve"] + counts["retrieve_batch"],
        "resume_p50": percentile(resumed, 0.5),
        "resume_p95": percentile(resumed, 0.95),
        "end_p50": percentile(ended, 0.5),
        "end_p95": percentile(ended, 0.95),
        **callback_figures(emulator),
        "summary": summary,
        "not_successful": failed,
    }


def after_ready(
    api: Api,
    emulator: EmulatorServer,
    dag_id: str,
    run_id: str,
    tis: list[dict],
    task_ids: Sequence[str] = ("generate",),
) -> tuple[list[float], list[float]]:
    """Per generation task (``task_ids``, mapped or not), seconds from its last video being ready (on the
    emulator, which calls back at that moment) to the task being resumed (its ``scheduled_when``, which
    Airflow stamps when a trigger event or the receiver's ``submit_event`` resumes it), and to the task's end
    (a worker ran execute_complete)."""
    ready = emulator.finish_times()
    resumed, ended = [], []
    for ti in tis:
        if ti["task_id"] not in task_ids or ti["state"] != "success":
            continue
        ids = api.xcom(dag_id, run_id, ti["task_id"], "vendor_task_id", ti["map_index"])
        ids = [ids] if isinstance(ids, str) else ids  # a single generation's id, or a batch's ids
        last = max(ready[task_id] for task_id in ids if task_id in ready)
        resumed.append(_seconds(ti["scheduled_when"]) - last)
        ended.append(_seconds(ti["end_date"]) - last)
    return resumed, ended


ROWS = [
    ("DAG run state", "state", "{}"),
    ("wall time (s)", "wall", "{:.0f}"),
    ("HTTP 429 answers", "http_429", "{}"),
    ("429s, share of requests", "share_429", "{:.2%}"),
    ("videos created per prompt", "tasks_per_prompt", "{:.4f}"),
    ("submit requests per prompt", "submits_per_prompt", "{:.3f}"),
    ("peak requests in one second", "peak_per_second", "{}"),
    ("seconds above the limit", "seconds_over_limit", "{}"),
    ("most requests in flight at once", "peak_in_flight", "{}"),
    ("Airflow CPU-s per video", "cpu_per_video", "{:.3f}"),
    ("triggerer bytes per waiting item", "bytes_per_waiting_item", "{:.0f}"),
    ("largest XCom (bytes)", "largest_xcom", "{}"),
    ("vendor requests while waiting", "wait_requests", "{}"),
    ("ready to task resumed p50 (s)", "resume_p50", "{:.1f}"),
    ("ready to task resumed p95 (s)", "resume_p95", "{:.1f}"),
    ("ready to task end p50 (s)", "end_p50", "{:.1f}"),
    ("ready to task end p95 (s)", "end_p95", "{:.1f}"),
    ("final callbacks answered 2xx", "callbacks_answered", "{}"),
    ("callbacks sent (final or not)", "callbacks_sent", "{}"),
    ("callbacks not answered 2xx in 5 s", "callbacks_not_2xx", "{}"),
    ("callback answer time p50 (ms)", "answer_p50_ms", "{:.0f}"),
    ("callback answer time p99 (ms)", "answer_p99_ms", "{:.0f}"),
    ("callback answer time max (ms)", "answer_max_ms", "{:.0f}"),
]


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, floor: float) -> bool:
    setup = f"N={args.n}, emulator {args.rate:g} requests/s, render {args.render:g} s, poll {args.poll:g} s"
    print(f"\n{args.topology}: {setup}")
    print(f"floor = N / rate + render + poll = {floor:.0f} s\n")
    print(f"| {'':34} | " + " | ".join(f"{mode:>10}" for mode in results) + " |")
    print(f"|{'-' * 36}|" + "|".join("-" * 12 for _ in results) + "|")
    for label, key, fmt in ROWS:
        print(f"| {label:34} | " + " | ".join(f"{fmt.format(results[m][key]):>10}" for m in results) + " |")
    # Every mode's run must succeed (a run with a failed chunk printed PASS when only callbacks ran).
    checks = {f"{mode}: the DAG run succeeded": result["state"] == "success" for mode, result in results.items()}
    shared = results.get("shared")
    if shared is not None:
        checks |= {
            f"wall <= floor + 120 s ({floor + 120:.0f} s)": shared["wall"] <= floor + 120,
            "429s <= 0.5% of requests": shared["share_429"] <= 0.005,
            "exactly one video per prompt": shared["tasks_per_prompt"] == 1.0,
            "at most one second above the limit": shared["seconds_over_limit"] <= 1,
            "largest XCom < 1 MB": shared["largest_xcom"] < 1024 * 1024,
            "summary: every result, in prompt order": (shared["summary"] or {}).get("in_order") is True,
        }
    called_back = results.get("callbacks")
    if called_back is not None:
        checks["callbacks: every video's final callback answered"] = called_back["callbacks_answered"] == args.n
        checks["callbacks: exactly one video per prompt"] = called_back["tasks_per_prompt"] == 1.0
        checks["callbacks: every callback answered 2xx within 5 s"] = called_back["callbacks_not_2xx"] == 0
        checks["callbacks: answered within 200 ms (p99)"] = called_back["answer_p99_ms"] <= 200
        checks["callbacks: ready to resumed within 2 s (p95)"] = called_back["resume_p95"] <= 2.0
    print()
    for name, ok in checks.items():
        print(f"check: {name}: {ok}")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topology", choices=("standalone", "prod"), default="standalone")
    parser.add_argument("--n", type=int, default=10000, help="videos (default 10000, in chunks of 1000)")
    parser.add_argument("--rate", type=float, default=20.0, help="the emulator's requests/s per token (default 20)")
    parser.add_argument("--render", type=float, default=20.0, help="seconds each video renders (default 20)")
    parser.add_argument("--poll", type=float, default=15.0, help="poll interval of the operators (default 15)")
    parser.add_argument("--parallelism", type=int, default=16, help="Airflow's [core] parallelism (default 16)")
    parser.add_argument("--chunk", type=int, default=1000, help="videos per mapped batch task (default 1000)")
    parser.add_argument(
        "--modes",
        default="shared,unshared",
        help="comma-separated: shared, unshared, callbacks (default the first two)",
    )
    parser.add_argument("--budget", type=float, default=7200.0, help="seconds before giving up")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, DB)")
    parser.add_argument(
        "--execution-api-timeout",
        type=float,
        help="[workers] execution_api_timeout of the standalone's tasks (default 30 s; Airflow's own is 5 s)",
    )
    parser.add_argument(
        "--no-vendor-limits",
        dest="vendor_limits",
        action="store_false",
        help="the emulator does not enforce the vendor's published limits (5 in flight per token, submit rates)",
    )
    args = parser.parse_args(argv)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    deadline = time.monotonic() + args.budget
    work = Path(tempfile.mkdtemp(prefix="vidgen-bench-10k-"))
    (work / "dags").mkdir()
    shutil.copy(REPO / "benchmarks" / "dags" / "vidgen_10k.py", work / "dags" / "vidgen_10k.py")
    token = "bench-10k-token-5d1c"
    floor = args.n / args.rate + args.render + args.poll
    print(
        f"Work folder: {work}; {args.topology}, N={args.n}, rate {args.rate:g}/s, modes {modes}, "
        f"vendor limits {'on' if args.vendor_limits else 'off'}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    with EmulatorServer(token=token, **render_settings(args.render)) as emulator:
        emulator.configure(
            rate_limit=args.rate, callback_timeout=WEBHOOK_TIMEOUT_SECONDS, enforce_limits=args.vendor_limits
        )

        def settings(api_url: str) -> dict[str, str]:
            return {**connections(emulator.url, token, args.rate, api_url), **bench_env(args)}

        dag_ids = [f"bench_10k_{mode}" for mode in MODES]
        top = (Standalone if args.topology == "standalone" else Prod)(work, emulator, dag_ids, settings, deadline)
        try:
            for mode in modes:
                results[mode] = run_mode(top, emulator, mode, args.n, deadline)
                print(f"[{mode}] {results[mode]}", flush=True)
        finally:
            top.stop()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = report(results, args, floor)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
