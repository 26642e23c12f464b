"""Where a token's shared pace is kept: the cost of one slot per request, store by store.

    python benchmarks/pace_stores.py [--processes 4] [--calls 1000]

Every request the provider sends first reserves a slot of its token's pace (``hooks.pace``). This runs
``--processes`` processes that each reserve ``--calls`` slots as fast as they can, against:

* ``process``: one process's memory (no sharing: the baseline);
* ``file``: a lock file per token (``shared_pace=file``; the default on one machine);
* ``redis``: one atomic script call in Redis (``shared_pace=auto`` on a Celery deployment);
* ``db lease``: the same reservation as a row lock and update in PostgreSQL, one transaction per
  request: what a lease in Airflow's metadata DB would cost.

It starts its own PostgreSQL and Redis on loopback (as ``make e2e-prod`` does; installed with apt-get
when missing, as root). Printed side by side: microseconds per reservation (median and p99, as each
process sees it), reservations per second over all processes, and the rate of the slots handed out
when every process asks for 20/s (the pace is shared when that stays 20, whatever the processes).

Airflow pools are not in the table: a pool counts running *tasks*, not *requests per second* (one batch
task sends a thousand), and a triggerer's polls take no pool slot at all.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "tests" / "e2e"))

STORES = ("process", "file", "redis", "db lease")

# One process of the run: reserve slots, print each call's latency and the slots it was given.
SHARER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[5])
from pathlib import Path
from airflow_provider_vidgen.hooks.pace import FileSlots, ProcessSlots, RedisSlots
kind, where, interval, calls = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
if kind == "process":
    store = ProcessSlots()
elif kind == "file":
    store = FileSlots(Path(where))
elif kind == "redis":
    store = RedisSlots(where)
else:
    sys.path.insert(0, sys.argv[6])
    from pace_stores import DbLeaseSlots
    store = DbLeaseSlots(where)
store.reserve("warm-up", interval)
latencies, slots = [], []
for _ in range(calls):
    before = time.time()
    wait = store.reserve("token", interval)
    after = time.time()
    latencies.append(after - before)
    slots.append(before + wait)
print(json.dumps({"latencies": latencies, "slots": slots}))
"""


class DbLeaseSlots:
    """The pace as a lease row in PostgreSQL: one transaction (row lock, update, commit) per request."""

    kind = "db lease"

    def __init__(self, dsn: str) -> None:
        import psycopg2

        self.db = psycopg2.connect(dsn)
        with self.db, self.db.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS vidgen_pace (key text PRIMARY KEY, tat double precision, "
                "paused double precision DEFAULT 0)"
            )

    def reserve(self, key: str, interval: float) -> float:
        from airflow_provider_vidgen.core.pace import reserve

        with self.db, self.db.cursor() as cursor:
            cursor.execute("INSERT INTO vidgen_pace (key) VALUES (%s) ON CONFLICT DO NOTHING", (key,))
            cursor.execute(
                "SELECT tat, paused, extract(epoch from clock_timestamp()) FROM vidgen_pace WHERE key = %s FOR UPDATE",
                (key,),
            )
            tat, paused, now = cursor.fetchone()
            tat, wait = reserve(tat, float(now), interval, paused or 0.0)
            cursor.execute("UPDATE vidgen_pace SET tat = %s WHERE key = %s", (tat, key))
        return wait


def run_store(kind: str, where: str, interval: float, processes: int, calls: int) -> dict[str, float]:
    argv = [sys.executable, "-c", SHARER, kind, where, str(interval), str(calls), str(REPO), str(Path(__file__).parent)]
    started = time.monotonic()
    workers = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    latencies: list[float] = []
    slots: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=600)
        if worker.returncode != 0:
            raise SystemExit(f"{kind}: a sharer failed")
        answer = json.loads(out.strip().splitlines()[-1])
        latencies += answer["latencies"]
        slots += answer["slots"]
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "median_us": latencies[len(latencies) // 2] * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
        "per_second": len(latencies) / elapsed,
        "slot_rate": (len(slots) - 1) / (max(slots) - min(slots)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--calls", type=int, default=1000, help="reservations per process (cost run)")
    args = parser.parse_args()

    from prod_stack import PG_USER, ProdStack

    with tempfile.TemporaryDirectory(prefix="vidgen-pace-") as folder:
        work = Path(folder)
        (work / "logs").mkdir()
        stack = ProdStack(work, "http://127.0.0.1:1")
        try:
            stack.start_databases(time.monotonic() + 300)
            where = {
                "process": "-",
                "file": str(work / "slots"),
                "redis": f"redis://127.0.0.1:{stack.ports['redis']}/0",
                "db lease": f"host=127.0.0.1 port={stack.ports['pg']} user={PG_USER} dbname=airflow",
            }
            (work / "slots").mkdir()
            cost = {kind: run_store(kind, where[kind], 1e-6, args.processes, args.calls) for kind in STORES}
            # The same stores handing out slots at 20/s to every process: is the pace shared?
            pace = {kind: run_store(kind, where[kind], 0.05, args.processes, 40) for kind in STORES}
        finally:
            stack.stop_all()

    print(f"\n{args.processes} processes x {args.calls} reservations each (no waiting: the store's own cost)")
    print(f"{'':34}" + "".join(f"{kind:>12}" for kind in STORES))
    rows = (
        ("median per reservation (us)", lambda k: f"{cost[k]['median_us']:.0f}"),
        ("p99 per reservation (us)", lambda k: f"{cost[k]['p99_us']:.0f}"),
        ("reservations per second, all", lambda k: f"{cost[k]['per_second']:.0f}"),
        (f"slots/s handed out at 20/s ({args.processes}x40)", lambda k: f"{pace[k]['slot_rate']:.1f}"),
    )
    for label, cell in rows:
        print(f"{label:34}" + "".join(f"{cell(kind):>12}" for kind in STORES))
    print(
        "\n'process' does not share: each process gets its own 20/s. The others hand out 20/s in all, across "
        "processes; file works on one machine, redis and the db lease across machines."
    )


if __name__ == "__main__":
    main()
