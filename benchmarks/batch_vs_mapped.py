"""Batch operator vs mapped operator: N videos in one DAG run each, under a real ``airflow standalone``.

    python benchmarks/batch_vs_mapped.py [--n 1000] [--rate 20] [--render 20] [--poll 5] [--modes batch,mapped]

One emulator (its rate limit ``--rate`` requests/s for the token, every video rendering ``--render`` s)
and one ``airflow standalone`` (SQLite, LocalExecutor, a triggerer; started with the e2e run's helpers
in tests/e2e) serve both modes, one after the other in the same run of this script:

* ``batch``: one ``HailuoBatchVideoOperator`` task with all N prompts, paced by the connection's extra
  ``max_requests_per_second`` (set to ``--rate``), one deferral with every id;
* ``mapped``: ``HailuoVideoOperator.partial(...).expand(prompt=...)``: N task instances, each deferring.

Printed per mode, side by side: wall time (the DAG run's start to end, from the API) and the floor
``N / rate + render + one poll interval``; Airflow's CPU seconds per video (every process of the
standalone process group: utime+stime plus that of reaped children, read from /proc before and after);
peak deferred task instances (sampled every 2 s through the REST API); the emulator's 429 answers; and
submissions per prompt (tasks the emulator created / N, and submit requests / N, 429s included).
Target: batch within floor + 60 s, at least 5x faster than mapped, exactly one task per prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the checkout, and the e2e run's helpers
sys.path.append(str(REPO / "tests" / "e2e"))

from common import Api, Failed, free_ports, group_alive, stop_group, wait_for  # noqa: E402

try:  # the e2e run's standalone environment (ports, executor, auth, logging)
    from run_e2e import TOKEN, airflow_env
except ImportError as err:
    raise SystemExit(f"batch_vs_mapped.py needs TOKEN and airflow_env from tests/e2e/run_e2e.py: {err}") from None

from airflow_provider_vidgen.emulator import EmulatorServer  # noqa: E402

DAGS = {"batch": "bench_batch", "mapped": "bench_mapped"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU of every live process in the group, with the CPU of the children each one has reaped."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 14 and fields[2] == str(pgid):
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def start_standalone(work: Path, env: dict[str, str], api: Api, dag_ids: tuple[str, ...], deadline: float):
    """``airflow standalone`` in its own process group, up and with ``dag_ids`` parsed."""
    with (work / "standalone.log").open("w") as log:
        process = subprocess.Popen(
            ["airflow", "standalone"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def up() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"airflow standalone exited with {process.returncode}; see {work / 'standalone.log'}")
        return api.client.get("/api/v2/monitor/health").status_code == 200

    try:
        wait_for(up, deadline, "the API")
        api.login(work / "airflow_home", deadline)
        wait_for(lambda: all(api.client.get(f"/api/v2/dags/{d}").status_code == 200 for d in dag_ids), deadline, "DAGs")
    except BaseException:
        stop_group(process)
        raise
    return process


def run_mode(api: Api, emulator: EmulatorServer, pgid: int, mode: str, n: int, deadline: float) -> dict[str, Any]:
    dag_id = DAGS[mode]
    emulator.reset()
    run_id = f"bench_{mode}_{int(time.time())}"
    cpu_before = group_cpu_seconds(pgid)
    api.send("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": None})
    api.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    print(f"[{mode}] triggered {dag_id} run {run_id}", flush=True)
    peak = 0
    last_print = 0.0
    while True:
        if time.monotonic() > deadline:
            raise Failed(f"{mode}: the run did not finish in time")
        try:
            run = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
            deferred = api.get(path, state="deferred", limit=1)["total_entries"]
        except (httpx.HTTPError, Failed) as err:  # a busy API server (SQLite) answers late: ask again
            print(f"[{mode}] API read failed ({type(err).__name__}); retrying", flush=True)
            time.sleep(2)
            continue
        peak = max(peak, deferred)
        if time.monotonic() - last_print > 30:
            stats = emulator.stats()
            print(f"[{mode}] {run['state']}: {deferred} deferred, {stats['tasks']} videos submitted", flush=True)
            last_print = time.monotonic()
        if run["state"] in ("success", "failed"):
            break
        time.sleep(2)
    cpu = group_cpu_seconds(pgid) - cpu_before
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    failed = api.get(path, state="failed", limit=1)["total_entries"]
    stats = emulator.stats()
    wall = _seconds(run["end_date"]) - _seconds(run["start_date"])
    return {
        "state": run["state"],
        "wall": wall,
        "cpu_per_video": cpu / n,
        "peak_deferred": peak,
        "failed_tasks": failed,
        "http_429": stats["counts"].get("rate_limited", 0) + stats["counts"].get("fault", 0),
        "tasks_per_prompt": stats["tasks"] / n,
        "submits_per_prompt": stats["counts"].get("submit", 0) / n,
    }


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="videos per DAG run (default 1000)")
    parser.add_argument("--rate", type=float, default=20.0, help="the emulator's requests/s per token (default 20)")
    parser.add_argument("--render", type=float, default=20.0, help="seconds each video renders (default 20)")
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval of the operators (default 5)")
    parser.add_argument("--modes", default="batch,mapped", help="comma-separated: batch, mapped")
    parser.add_argument("--parallelism", type=int, default=32, help="[core] parallelism (default 32)")
    parser.add_argument(
        "--sqlite-busy-timeout",
        type=float,
        default=60.0,
        help="seconds a SQLite connection waits for a lock before 'database is locked' (default 60; "
        "Python's default of 5 s kills the scheduler with 1,000 mapped tasks at parallelism 32)",
    )
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds before giving up (default 3600)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, DB)")
    args = parser.parse_args(argv)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    deadline = time.monotonic() + args.budget
    work = Path(tempfile.mkdtemp(prefix="vidgen-bench-"))
    (work / "dags").mkdir()
    shutil.copy(REPO / "benchmarks" / "dags" / "vidgen_bench.py", work / "dags" / "vidgen_bench.py")
    # [database] sql_alchemy_connect_args names a dict by import path.
    (work / "bench_sqlite.py").write_text(f"CONNECT_ARGS = {{'timeout': {args.sqlite_busy_timeout!r}}}\n")
    api_port, worker_log_port, trigger_log_port = free_ports(3)
    floor = args.n / args.rate + args.render + args.poll
    results: dict[str, dict[str, Any]] = {}
    print(
        f"Work folder: {work}; N={args.n}, rate {args.rate:g}/s, render {args.render:g} s, poll {args.poll:g} s, "
        f"parallelism {args.parallelism}, SQLite busy timeout {args.sqlite_busy_timeout:g} s"
    )
    queued = min(5.0, args.render / 4)
    with EmulatorServer(token=TOKEN, queued_seconds=queued, running_seconds=args.render - queued) as emulator:
        emulator.configure(rate_limit=args.rate)
        env = airflow_env(work, emulator.url, api_port, (worker_log_port, trigger_log_port))
        env.update(
            {
                "AIRFLOW_CONN_ACEDATA_DEFAULT": json.dumps(
                    {
                        "conn_type": "acedata",
                        "host": emulator.url,
                        "password": TOKEN,
                        "extra": {
                            "max_requests_per_second": args.rate,
                            "max_polls_per_second": args.rate,  # the emulator's limit counts polls too
                            "batch_size": 100,
                        },
                    }
                ),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), str(work), os.environ.get("PYTHONPATH")])),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "bench_sqlite.CONNECT_ARGS",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "bench_sqlite.CONNECT_ARGS",
                "AIRFLOW__CORE__PARALLELISM": str(args.parallelism),
                "AIRFLOW__CORE__MAX_MAP_LENGTH": str(max(args.n, 1024)),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
                "VIDGEN_BENCH_N": str(args.n),
                "VIDGEN_BENCH_POLL": str(args.poll),
            }
        )
        api = Api(f"http://127.0.0.1:{api_port}")
        process = start_standalone(work, env, api, tuple(DAGS[mode] for mode in modes), deadline)
        try:
            for mode in modes:
                results[mode] = run_mode(api, emulator, process.pid, mode, args.n, deadline)
                print(f"[{mode}] {results[mode]}", flush=True)
        finally:
            stop_group(process)
            if group_alive(process.pid):
                print("warning: some airflow processes did not stop", flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("DAG run state", "state", "{}"),
        ("wall time (s)", "wall", "{:.0f}"),
        ("Airflow CPU-s per video", "cpu_per_video", "{:.3f}"),
        ("peak deferred tasks", "peak_deferred", "{}"),
        ("failed task instances", "failed_tasks", "{}"),
        ("HTTP 429 answers", "http_429", "{}"),
        ("videos created per prompt", "tasks_per_prompt", "{:.3f}"),
        ("submit requests per prompt", "submits_per_prompt", "{:.3f}"),
    ]
    print(
        f"\nN={args.n} videos, emulator {args.rate:g} requests/s, render {args.render:g} s, poll {args.poll:g} s, "
        f"[core] parallelism {args.parallelism}"
    )
    print(f"floor = N / rate + render + poll = {floor:.0f} s\n")
    print(f"| {'':28} | " + " | ".join(f"{mode:>10}" for mode in results) + " |")
    print(f"|{'-' * 30}|" + "|".join("-" * 12 for _ in results) + "|")
    for label, key, fmt in rows:
        print(f"| {label:28} | " + " | ".join(f"{fmt.format(results[m][key]):>10}" for m in results) + " |")
    ok = True
    if "batch" in results:
        batch = results["batch"]
        ok &= batch["state"] == "success" and batch["wall"] <= floor + 60 and batch["tasks_per_prompt"] == 1.0
        print(f"\nbatch within floor + 60 s ({floor + 60:.0f} s): {batch['wall'] <= floor + 60}")
        print(f"batch: exactly one video per prompt: {batch['tasks_per_prompt'] == 1.0}")
        if "mapped" in results:
            speedup = results["mapped"]["wall"] / batch["wall"]
            ok &= speedup >= 5
            print(f"batch is {speedup:.1f}x faster than mapped (target >= 5x)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
