"""OpenLineage: the datasets the operators report reach the real OpenLineage provider's listener and its
file transport, under ``dag.test()`` (in a child process: the provider reads its configuration once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import REPO, TOKEN, reset_emulator

from airflow_provider_vidgen.lineage import url_dataset, urls_in
from airflow_provider_vidgen.vendors.acedata.services import SEEDANCE_MODELS

RUN = r"""
import sys
sys.path[:0] = [sys.argv[1] + "/tests"]
from dags import videos_view_dags
run = videos_view_dags.videos_view_dag.test(logical_date=None, run_conf={"root": sys.argv[2]})
print("RUN_ID", run.run_id)
"""


def final_events(path: Path, jobs: set[str], deadline: float) -> dict[str, dict[str, Any]]:
    """The COMPLETE or FAIL event of each job, once all are written (the listener emits from a forked process)."""
    while True:
        found: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                event = json.loads(line) if line.strip() else {}
                if event.get("eventType") in ("COMPLETE", "FAIL"):
                    found[event["job"]["name"]] = event
        if jobs <= set(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_operators_datasets_reach_the_openlineage_transport(airflow_db, emulator_server, tmp_path):
    reset_emulator(emulator_server)
    events_file, root = tmp_path / "ol_events.jsonl", tmp_path / "videos"
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "vidgen_tests",
        "AIRFLOW_CONN_ACEDATA_DEFAULT": json.dumps(
            {"conn_type": "acedata", "host": emulator_server.url, "password": TOKEN,
             "extra": {"max_requests_per_second": 1000, "max_polls_per_second": 1000}}
        ),
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(REPO), f"file://{root}"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = {"videos_view.batch", "videos_view.download"}
    events = final_events(events_file, jobs, time.monotonic() + 60)
    assert jobs <= set(events), sorted(events)

    download = events["videos_view.download"]
    # One generation fails on purpose, so the download fails after writing the rest: its FAIL event names them.
    assert (download["eventType"], events["videos_view.batch"]["eventType"]) == ("FAIL", "COMPLETE")
    written = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".mp4", ".jpg"))
    outputs = sorted((o["namespace"], o["name"]) for o in download["outputs"])
    assert outputs == sorted(("file", str(p).lstrip("/")) for p in written) or outputs == sorted(
        ("file", str(p)) for p in written
    ), outputs
    (manifest_file,) = root.rglob("manifest.json")
    fetched = [url_dataset(entry["source_url"]) for entry in json.loads(manifest_file.read_text())["files"]]
    inputs = sorted((i["namespace"], i["name"]) for i in download["inputs"])
    assert inputs == sorted(named for named in fetched if named) and len(inputs) >= 4  # 4 videos, thumbnails

    batch = events["videos_view.batch"]
    assert len(batch["outputs"]) == 3 and all(o["name"].endswith(".mp4") for o in batch["outputs"])
    assert TOKEN not in events_file.read_text()


def test_input_urls_are_found_anywhere_in_a_body_and_lose_their_query():
    body = {
        "model": SEEDANCE_MODELS[0],
        "content": [
            {"type": "text", "text": "a heron"},
            {"type": "image_url", "image_url": {"url": "https://cdn.example.com/in/heron.png?X-Signature=secret"}},
        ],
        "callback_url": "not a url",
    }
    assert [url_dataset(url) for url in urls_in(body)] == [("https://cdn.example.com", "/in/heron.png")]
    assert url_dataset("https://user:pw@cdn.example.com/a.mp4") == ("https://cdn.example.com", "/a.mp4")
    assert url_dataset("file:///etc/passwd") is None and url_dataset(None) is None
