"""Issue 13, item 4: two triggerers, 500 waiting tasks each, against a 20 req/s vendor rate limit.

The shared 429 backoff is per triggerer process. This starts the ``make e2e-prod`` topology
(PostgreSQL, Redis, CeleryExecutor, two triggerers, two workers; see tests/e2e/prod_stack.py),
sets the emulator's limit to ``--rate-limit`` requests/s, runs one fan-out of ``--tasks`` deferred
generations (operator defaults: poll every 15 s, 5 poll failures tolerated) and reports how the
triggers were spread, how many requests were rate limited, whether any task failed or retried, and
how many vendor tasks were created per generation. Optional, not part of CI (several minutes):

    .venv/bin/python benchmarks/triggerer_ha_rate_limit.py [--tasks 1000] [--rate-limit 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

E2E = Path(__file__).resolve().parents[1] / "tests" / "e2e"
sys.path.insert(0, str(E2E))

import run_e2e_prod as e2e  # noqa: E402
from common import Api, Report, wait_for  # noqa: E402
from prod_stack import TOKEN, PollRecorder, ProdStack  # noqa: E402

from airflow_provider_vidgen.emulator import EmulatorServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rate-limit", type=float, default=20.0)
    parser.add_argument("--running", type=float, default=180.0, help="seconds each generation runs")
    parser.add_argument("--budget", type=float, default=1800.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidgen-bench-ha-"))
    (work / "dags").mkdir()
    shutil.copy(e2e.FANOUT_DAG, work / "dags")
    started = time.monotonic()
    deadline = started + args.budget
    emulator = EmulatorServer(token=TOKEN, queued_seconds=5, running_seconds=args.running)
    recorder = PollRecorder(emulator.app)
    emulator.app = recorder
    emulator.start()
    stack = ProdStack(work, emulator.url, worker_concurrency=16)
    report = Report()
    try:
        stack.start_databases(deadline)
        stack.start_airflow(deadline)
        api = Api(stack.api_url)
        wait_for(lambda: api.client.get("/api/v2/monitor/health").status_code == 200, deadline, "the API")
        api.login(stack.home, deadline)
        wait_for(lambda: api.client.get(f"/api/v2/dags/{e2e.FANOUT}").status_code == 200, deadline, "the DAG")
        api.send("PATCH", f"/api/v2/dags/{e2e.FANOUT}", {"is_paused": False})
        ctx = e2e.Context(stack, api, emulator, recorder)
        emulator.configure(rate_limit=args.rate_limit)
        run = ctx.fanout("bench-ha", args.tasks, poll_interval=15.0, max_poll_failures=5)
        submitted = time.monotonic()
        state = run.wait(deadline)
        rows = run.tis()
        holders = Counter(job for _, _, _, job in rows)
        stats = emulator.stats()["counts"]
        retried = sum(1 for _, _, tries, _ in rows if tries > 1)
        created = run.created()
        print(f"\n{args.tasks} generations, limit {args.rate_limit:g} req/s, triggerer jobs {dict(holders)} (last)")
        print(f"run {state} after {time.monotonic() - submitted:.0f} s; {retried} task(s) retried")
        print(
            f"emulator: {stats['retrieve_batch']} batch polls, {stats['rate_limited']} answered 429, "
            f"{stats['submit']} submits"
        )
        report.check("every generation delivered", state == "success")
        report.check("one vendor task per generation", len(created) == args.tasks and set(created.values()) == {1})
    finally:
        stack.stop_all()
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
