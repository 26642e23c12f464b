"""``make demo``: run the example pipeline with ``airflow dags test`` in deferrable mode.

Against the bundled emulator by default (no account, no cost). When ``AIRFLOW_CONN_ACEDATA_DEFAULT``
(and, for the HiDream step, ``AIRFLOW_CONN_HIDREAM_DEFAULT``) are set, against the real APIs.

The videos are downloaded into ``<workdir>/videos/<run id>/`` with ``manifest.json`` and
``gallery.html``; the demo ends by printing the gallery's path, once the emulator has stopped and
every file the gallery links to has been checked to be there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

DEMO_DAG = "vidgen_demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dags-folder", default="dags_examples", help="folder holding vidgen_demo.py")
    parser.add_argument("--workdir", default=".demo", help="AIRFLOW_HOME, logs and the summary go here")
    args = parser.parse_args(argv)

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    summary_file = workdir / "summary.json"
    summary_file.unlink(missing_ok=True)
    videos = workdir / "videos"
    log_file = workdir / "dags_test.log"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(workdir / "airflow_home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(args.dags_folder).resolve()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
        "VIDGEN_DEMO_SUMMARY": str(summary_file),
        "VIDGEN_DEMO_VIDEOS": str(videos),
    }
    real = "AIRFLOW_CONN_ACEDATA_DEFAULT" in os.environ
    with ExitStack() as stack:
        if real:
            print("Using the real APIs (AIRFLOW_CONN_ACEDATA_DEFAULT is set): this spends credits.")
        else:
            from airflow_provider_vidgen.emulator import EmulatorServer

            # It keeps the vendor's published limits (5 requests in flight per token, Sora 0.5 submissions/s, ...)
            # and answers a submission in 0.2 s, so the provider's leases and paces are what keeps it from 429s.
            emulator = stack.enter_context(
                EmulatorServer(
                    token="demo-token", queued_seconds=1, running_seconds=2, enforce_limits=True, submit_latency=0.2
                )
            )
            print(f"Started the local emulator at {emulator.url} (no account needed, nothing is billed)")
            for conn_id, conn_type in (("ACEDATA_DEFAULT", "acedata"), ("HIDREAM_DEFAULT", "hidream")):
                env[f"AIRFLOW_CONN_{conn_id}"] = json.dumps(
                    {"conn_type": conn_type, "host": emulator.url, "password": "demo-token"}
                )
            env.update({"VIDGEN_DEMO_EMULATOR": "1", "VIDGEN_DEMO_POLL_INTERVAL": "1"})

        airflow = [sys.executable, "-m", "airflow"]
        print("Preparing the Airflow metadata DB ...")
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        print(f"Running `airflow dags test {DEMO_DAG}` (deferrable; full log: {log_file}) ...")
        started = time.monotonic()
        with log_file.open("w") as log:
            process = subprocess.Popen(
                [*airflow, "dags", "test", DEMO_DAG], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            show_progress(process, log_file)
            run = subprocess.CompletedProcess(process.args, process.wait())
        elapsed = time.monotonic() - started
        if not real:
            stats = emulator.stats()
            counts, refused = stats["counts"], sum(stats["answers_429"].values())
            print(
                f"Emulator saw {counts['submit']} submissions and {counts['retrieve_batch']} batch polls, "
                f"and answered {refused} of them 429 (it keeps the vendor's published limits)."
            )

    if not summary_file.exists():
        print(log_file.read_text()[-4000:])
        print(f"The demo DAG did not produce a summary (exit code {run.returncode}).")
        return 1
    summary = json.loads(summary_file.read_text())
    print_summary(summary, elapsed)
    unexpected = unexpected_errors(log_file.read_text(), allowed_tasks=DELIBERATE_FAILURES)
    if unexpected:
        print(f"\n{len(unexpected)} error line(s) outside the deliberately failing task, in {log_file}:")
        for line in unexpected[:10]:
            print(f"  {line[:300]}")
        return 1
    gallery = local_gallery(summary)  # the emulator has stopped by now: only local files count
    if gallery is None and run.returncode == 0:
        return 1
    if run.returncode != 0:
        print(f"`airflow dags test` exited with {run.returncode}; see {log_file}")
    return run.returncode


DELIBERATE_FAILURES = ("hailuo_doomed",)  # the demo's one generation that fails on purpose
# The log lines worth showing while the DAG runs: tasks starting, submissions, batch progress,
# heartbeats and final states (the rest stays in the log file).
PROGRESS = re.compile(
    r"\[DAG TEST\] starting task_id=\S+( map_index=\d+)?|Submitted .*|\d+/\d+ succeeded, .*"
    r"|still running \(.*|(acedata|hidream) \S+ task \S+: (succeeded|failed).*|\d+ of \d+ generations downloaded.*"
)
# A structlog line of `airflow dags test`: time, [level], the message, then [logger] and key=value pairs.
LOG_LINE = re.compile(r"^\S+\s+\[\s*\w+\s*\]\s+(?P<message>.*?)(?:\s+\[[\w.]+\])?(?:\s+\w+=\S+)*\s*$")


def progress_message(line: str, shown: set[str]) -> str | None:
    """The readable part of a progress line (no time, level, logger or source location) the first time
    it is seen, else None: a final state is logged by the trigger and again by the task that resumes."""
    match = LOG_LINE.match(line.rstrip("\n"))
    found = PROGRESS.search(match["message"] if match else line.strip())
    if not found:
        return None
    text = found[0].replace("[DAG TEST] starting ", "running ").replace(" map_index=-1", "")
    if text in shown:
        return None
    shown.add(text)
    return text


def show_progress(process: subprocess.Popen, log_file: Path) -> None:
    """Print the progress lines of the running ``dags test`` as they are written (until it exits), once each."""
    shown: set[str] = set()
    with log_file.open() as log:
        while True:
            line = log.readline()
            if line:
                message = progress_message(line, shown)
                if message:
                    print(f"  {message}", flush=True)
                continue
            if process.poll() is not None:
                return
            time.sleep(0.2)  # polling a growing file; nothing waits on this timing


TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")


def unexpected_errors(log: str, allowed_tasks: tuple[str, ...]) -> list[str]:
    """Error lines of ``airflow dags test`` output, except those inside a task that is meant to fail.

    ``dags test`` runs one task at a time and marks where each starts, so a line belongs to the
    task whose start marker came last.
    """
    current, found = None, []
    for line in log.splitlines():
        if match := TASK_START.search(line):
            current = match[1]
        elif ("[error" in line or "[critical" in line) and current not in allowed_tasks:
            found.append(f"{current or 'before any task'}: {line.strip()}")
    return found


def print_summary(summary: dict, elapsed: float) -> None:
    """Every generation from the download's manifest: the local file, or the failure and its vendor task id."""
    print(f"\nGenerated videos ({elapsed:.0f}s):")
    print(f"  {'vendor':<8} {'service':<10} {'vendor task id':<38} {'probed':<20} local file / error")
    for entry in summary.get("files", []):
        if entry["kind"] != "video":
            continue
        video = entry.get("video") or {}
        probed = f"{video.get('codec')} {video.get('width')}x{video.get('height')} {video.get('duration')}s"
        print(f"  {entry['vendor']:<8} {entry['service']:<10} {entry['task_id']:<38} {probed:<20} {entry['name']}")
    for failure in summary.get("failures", []):
        error = failure.get("error") or {}
        print(
            f"  {failure.get('vendor') or '?':<8} {failure.get('service') or '?':<10} "
            f"{failure.get('task_id') or '-':<38} {'FAILED':<20} {error.get('code')}: {error.get('message')}"
        )
    print(
        f"\n{summary.get('downloaded', 0)} of {summary.get('generations', 0)} generations downloaded; "
        f"{len(summary.get('failures', []))} failed (listed with their vendor task id)."
    )


def local_gallery(summary: dict) -> Path | None:
    """The gallery's local path, once every file it links to is checked to be there (not on a vendor's URL)."""
    uri = summary.get("gallery")
    if not uri or urlsplit(uri).scheme not in ("file", ""):
        print("No local gallery was written.")
        return None
    gallery = Path(urlsplit(uri).path)
    missing = [e["name"] for e in summary.get("files", []) if not (gallery.parent / e["name"]).is_file()]
    if not gallery.is_file() or missing:
        print(f"The gallery {gallery} is incomplete; missing: {missing or gallery.name}")
        return None
    print(f"\nGallery (local files only, works without the emulator): {gallery}")
    return gallery


if __name__ == "__main__":
    sys.exit(main())
