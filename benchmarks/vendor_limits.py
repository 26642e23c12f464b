"""The vendor's published limits, kept by the provider or not, against an emulator that enforces them.

    python benchmarks/vendor_limits.py [--quick] [--render 10] [--poll 5]

One emulator under ``airflow standalone`` keeps Ace Data Cloud's limits (``enforce_limits``: 5 video
requests in flight per token, Sora 0.5 submissions/s; figures from the service table) and answers every
submission in ``--latency`` s (default 1), so 5 in flight is at most 5 submissions/s. On one token:

* ``hailuo``: 600 Hailuo videos as three 200-prompt batch chunks (``HailuoBatchVideoOperator`` mapped over
  ``batch_chunks``);
* ``sora``: 40 Sora videos in one batch (``AceDataBatchVideoOperator``).

Each runs twice in the same invocation (DAGs: ``benchmarks/dags/vidgen_limits.py``):

* ``before``: the connection keeps none of the limits, as the provider did before them: extras
  ``{"max_in_flight": 0, "submit_rates": {"hailuo": 0, "sora": 0}}`` (0: no cap, no own pace);
* ``now``: the connection's defaults (the published figures).

Printed side by side: wall time (the DAG run's start to end) against the floor
``N / (submissions per second the limits allow) + render`` (Hailuo: 5 in flight / 1 s = 5/s; Sora: 0.5/s);
generations and submit requests per prompt (the emulator's stats); 429s (share of all API requests, by
code); the most requests in flight on the token. Targets (``now``): Hailuo within floor + 120 s with 429s
<= 0.5%, Sora within floor + 60 s with 429s <= 2%, each prompt created exactly once.
``--quick``: 60 Hailuo (three chunks of 20) and 6 Sora, for a smoke run (targets printed, not meaningful).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.append(str(REPO / "tests" / "e2e"))

from batch_vs_mapped import _seconds, start_standalone  # noqa: E402
from common import Api, free_ports, stop_group  # noqa: E402
from ten_thousand import patient_sqlite  # noqa: E402

from airflow_provider_vidgen.emulator import EmulatorServer  # noqa: E402
from airflow_provider_vidgen.vendors.acedata.services import SERVICES  # noqa: E402

TOKEN = "bench-limits-token-7e2a"
MODES = ("before", "now")
SLACK = {"hailuo": 120.0, "sora": 60.0}  # seconds over the floor the issue allows
MAX_429_SHARE = {"hailuo": 0.005, "sora": 0.02}
API_KINDS = ("submit", "retrieve", "retrieve_batch", "delete")


def connections(url: str) -> dict[str, str]:
    def conn(extra: dict[str, Any]) -> str:
        return json.dumps({"conn_type": "acedata", "host": url, "password": TOKEN, "extra": extra})

    return {
        "AIRFLOW_CONN_ACEDATA_BEFORE": conn({"max_in_flight": 0, "submit_rates": {"hailuo": 0, "sora": 0}}),
        "AIRFLOW_CONN_ACEDATA_NOW": conn({}),
    }


def floor_seconds(case: str, n: int, args: argparse.Namespace) -> float:
    """N over the submissions per second the published limits allow, plus the render time."""
    limits = SERVICES[case].limits
    per_second = (limits.in_flight or float("inf")) / args.latency
    if limits.submit_rate:
        per_second = min(per_second, limits.submit_rate)
    return n / per_second + args.render


def run_case(api: Api, emulator: EmulatorServer, dag_id: str, n: int, deadline: float) -> dict[str, Any]:
    emulator.reset()
    run_id = f"{dag_id}_{int(time.time())}"
    api.trigger(dag_id, run_id)
    print(f"[{dag_id}] triggered run {run_id}", flush=True)
    state = api.run_end(dag_id, run_id, deadline)
    run = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    stats = emulator.stats()
    counts, refused = stats["counts"], stats["answers_429"]
    requests = sum(counts[kind] for kind in API_KINDS)
    in_flight = stats["in_flight"].get("token-0", {}).get("video", {"peak": 0})
    result = {
        "state": state,
        "wall": _seconds(run["end_date"]) - _seconds(run["start_date"]),
        "tasks_per_prompt": stats["tasks_created"] / n,
        "most_per_prompt": stats["prompts"]["most_tasks_per_prompt"],
        "submits_per_prompt": counts["submit"] / n,
        "requests": requests,
        "http_429": sum(refused.values()),
        "share_429": sum(refused.values()) / max(requests, 1),
        "rate_limited": refused.get("rate_limited", 0),
        "too_many_requests": refused.get("too_many_requests", 0),
        "peak_in_flight": in_flight["peak"],
    }
    print(f"[{dag_id}] {result}", flush=True)
    return result


ROWS = [
    ("DAG run state", "state", "{}"),
    ("wall time (s)", "wall", "{:.0f}"),
    ("videos created per prompt", "tasks_per_prompt", "{:.3f}"),
    ("most videos for one prompt", "most_per_prompt", "{}"),
    ("submit requests per prompt", "submits_per_prompt", "{:.3f}"),
    ("API requests", "requests", "{}"),
    ("HTTP 429 answers", "http_429", "{}"),
    ("429s, share of requests", "share_429", "{:.2%}"),
    ("  rate_limited (in flight)", "rate_limited", "{}"),
    ("  too_many_requests (rate)", "too_many_requests", "{}"),
    ("most requests in flight", "peak_in_flight", "{}"),
]


def report(case: str, n: int, results: dict[str, dict[str, Any]], args: argparse.Namespace) -> bool:
    floor = floor_seconds(case, n, args)
    print(f"\n{case}: {n} videos, emulator enforcing the published limits, submissions answer in {args.latency:g} s")
    print(f"floor = N / submissions per second allowed + render {args.render:g} s = {floor:.0f} s\n")
    print(f"| {'':30} | " + " | ".join(f"{mode:>10}" for mode in results) + " |")
    print(f"|{'-' * 32}|" + "|".join("-" * 12 for _ in results) + "|")
    for label, key, fmt in ROWS:
        print(f"| {label:30} | " + " | ".join(f"{fmt.format(results[m][key]):>10}" for m in results) + " |")
    now = results["now"]
    checks = {
        f"wall <= floor + {SLACK[case]:.0f} s ({floor + SLACK[case]:.0f} s)": now["wall"] <= floor + SLACK[case],
        f"429s <= {MAX_429_SHARE[case]:.1%} of requests": now["share_429"] <= MAX_429_SHARE[case],
        "exactly one video per prompt": now["tasks_per_prompt"] == 1.0 and now["most_per_prompt"] == 1,
        "the run succeeded": now["state"] == "success",
    }
    print()
    for name, ok in checks.items():
        print(f"{case} now: {name}: {ok}")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 Hailuo in chunks of 20, 6 Sora (a smoke run)")
    parser.add_argument("--render", type=float, default=10.0, help="seconds each video renders (default 10)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds a submission takes to answer (1)")
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval of the operators (default 5)")
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds before giving up")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, DB)")
    args = parser.parse_args(argv)
    sizes = {"hailuo": 60, "sora": 6} if args.quick else {"hailuo": 600, "sora": 40}
    chunk = 20 if args.quick else 200
    deadline = time.monotonic() + args.budget
    work = Path(tempfile.mkdtemp(prefix="vidgen-bench-limits-"))
    (work / "dags").mkdir()
    shutil.copy(REPO / "benchmarks" / "dags" / "vidgen_limits.py", work / "dags" / "vidgen_limits.py")
    print(f"Work folder: {work}; sizes {sizes}, chunks of {chunk}", flush=True)
    from run_e2e import airflow_env

    queued = min(2.0, args.render / 4)
    results: dict[str, dict[str, dict[str, Any]]] = {case: {} for case in sizes}
    settings = {"enforce_limits": True, "submit_latency": args.latency}
    with EmulatorServer(token=TOKEN, queued_seconds=queued, running_seconds=args.render - queued, **settings) as emu:
        api_port, worker_log, trigger_log = free_ports(3)
        env = airflow_env(work, emu.url, api_port, (worker_log, trigger_log))
        env.update(connections(emu.url))
        env.update(
            {
                "VIDGEN_LIMITS_HAILUO_N": str(sizes["hailuo"]),
                "VIDGEN_LIMITS_CHUNK": str(chunk),
                "VIDGEN_LIMITS_SORA_N": str(sizes["sora"]),
                "VIDGEN_LIMITS_POLL": str(args.poll),
                "AIRFLOW__CORE__PARALLELISM": "8",
            }
        )
        patient_sqlite(work, env)
        api = Api(f"http://127.0.0.1:{api_port}")
        dag_ids = tuple(f"bench_limits_{case}_{mode}" for case in sizes for mode in MODES)
        process = start_standalone(work, env, api, dag_ids, deadline)
        try:
            for case, n in sizes.items():
                for mode in MODES:
                    results[case][mode] = run_case(api, emu, f"bench_limits_{case}_{mode}", n, deadline)
        finally:
            stop_group(process)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = all([report(case, sizes[case], results[case], args) for case in sizes])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
