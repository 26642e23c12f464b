"""Issue 13, item 4, the polling side: two triggerers, 500 waiting tasks each, one token at 20 req/s.

    python benchmarks/two_triggerers.py [--n 1000] [--triggerers 2] [--rate-limit 20] [--poll-interval 15]

The shared 429 backoff lives in one triggerer process. This runs ``--triggerers`` triggerer-like
worker processes at once (the worker of ``benchmarks/triggerer_load.py``: every trigger rebuilt from
its serialized kwargs and run in one event loop), gives each an equal share of ``--n`` waiting tasks
of the same connection, and points all of them at one emulator that limits the token to
``--rate-limit`` requests/s. It prints, per triggerer and in total: how the triggers ended (success,
timeout, polling gave up), the poll requests and 429s each saw, and the emulator's own counts. The
same run with one triggerer holding all the tasks is printed beside it as the baseline.
Airflow's own task overhead is left out: ``make e2e-prod`` covers real triggerer failover.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import triggerer_load as load


def run(triggerers: int, args: argparse.Namespace, emulator: load.Emulator, home: str) -> dict[str, Any]:
    emulator.reset()
    emulator.configure(rate_limit=0)
    workers = [load.Worker("shared", args, emulator, home) for _ in range(triggerers)]
    try:
        for worker in workers:
            worker.read_message()  # ready
        ids = emulator.submit(args.n, args.spread)
        emulator.configure(rate_limit=args.rate_limit)
        before = emulator.stats()["counts"]
        share = -(-len(ids) // triggerers)
        for index, worker in enumerate(workers):
            worker.send_ids(ids[index * share : (index + 1) * share])
        results = [worker.read_message() for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    after = emulator.stats()["counts"]
    emulator.configure(rate_limit=0)
    per_triggerer = []
    for result in results:
        outcomes = Counter(fired[1] if fired else "hung" for fired in result["fired"])
        statuses = Counter(status for _, status, _ in result["requests"])
        per_triggerer.append(
            {
                "tasks": len(result["ids"]),
                "success": outcomes.get("success", 0),
                "timeout": outcomes.get("timeout", 0),
                "error": outcomes.get("error", 0) + outcomes.get("hung", 0),
                "requests": sum(statuses.values()),
                "429s": statuses.get(429, 0),
            }
        )
    server = {key: after[key] - before[key] for key in ("retrieve_batch", "rate_limited")}
    return {"triggerers": triggerers, "per_triggerer": per_triggerer, "server": server}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggerers", type=int, default=2)
    known, rest = parser.parse_known_args(argv)
    args = load.parse_args(rest)
    emulator = load.Emulator(max_batch_ids=max(100, args.batch_size))
    try:
        with tempfile.TemporaryDirectory(prefix="vidgen-bench-home-") as home:
            runs = [run(1, args, emulator, home), run(known.triggerers, args, emulator, home)]
    finally:
        emulator.stop()
    print(
        f"\n{args.n} waiting tasks of one connection, emulator limit {args.rate_limit:g} req/s per token, "
        f"poll interval {args.poll_interval:g} s, batch size {args.batch_size}"
    )
    print(f"{'triggerers':>10} {'triggerer':>9} {'tasks':>6} {'success':>8} {'timeout':>8} {'error':>6} "
          f"{'requests':>9} {'429s':>5}")  # fmt: skip
    ok = True
    for result in runs:
        for index, row in enumerate(result["per_triggerer"], 1):
            print(
                f"{result['triggerers']:>10} {index:>9} {row['tasks']:>6} {row['success']:>8} {row['timeout']:>8} "
                f"{row['error']:>6} {row['requests']:>9} {row['429s']:>5}"
            )
            ok &= row["success"] == row["tasks"]
        server = result["server"]
        print(
            f"{'':>10} {'emulator':>9} batch polls {server['retrieve_batch']}, answered 429: {server['rate_limited']}"
        )
    print("every task finished" if ok else "SOME TASKS DID NOT FINISH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
