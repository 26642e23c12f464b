"""``make e2e``: the content pipeline under a real scheduler, triggerer and API server.

Starts the emulator and ``airflow standalone`` (SQLite, LocalExecutor, a real triggerer) on free
ports with its own AIRFLOW_HOME in a temporary folder, copies the content pipeline (and the DAG
its asset schedules) and ``tests/e2e/dags/vidgen_blocking.py`` into a temporary DAGs folder, then
through the REST API (JWT from ``/auth/token``) triggers one run of each (in parallel) and checks:

* the run succeeds, and so does the asset-scheduled ``vidgen_publish_videos`` run after it;
* every generation task was seen ``deferred``, held by a trigger of the triggerer, and resumed
  from the trigger's event (its log shows the event; the emulator saw the polls);
* the videos exist at the templated destination with the manifest's sizes and sha256;
* the asset event was recorded (with the download summary as its extra);
* the Video extra link renders through the API server;
* the blocking paths in a real LocalExecutor worker (``vidgen_blocking``, its connection created in
  the metadata DB through the API, so the task process gets it from its supervisor): the
  ``deferrable=False`` generation waits in its task process (never ``deferred``, never a trigger)
  and returns the succeeded video; the non-deferrable sensor (``mode="reschedule"``, sync ``poke``)
  returns the submit-only task as succeeded;
* an exhausted balance (``vidgen_balance.py``, the last phase): a 200-video batch whose balance pays for 80
  gets at most 5 ``used_up`` answers and fails saying to top up, then clear; after the top-up, a clear
  through the REST API gives 200 succeeded results in XCom, each prompt created exactly once over both tries.

Every process it started is stopped (process-group kill) in ``finally``. Prints PASS/FAIL per
check and exits non-zero on any failure. ``--keep`` keeps the temporary folder (logs, DB, videos).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: make the provider importable from the checkout

from airflow_provider_vidgen.emulator import EmulatorServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    Api,
    Failed,
    Report,
    error_lines,
    free_ports,
    group_alive,
    stop_group,
    task_log,
    wait_for,
)

PIPELINE = "vidgen_content_pipeline"
PUBLISH = "vidgen_publish_videos"
DAG_FILES = ("vidgen_content_pipeline.py", "vidgen_publish_videos.py", "content_prompts.txt")
PROMPTS = ["e2e: a paper boat on a moonlit lake", "e2e: a red fox in fresh snow"]
TOKEN = "e2e-token-4f1d9a"
GENERATION_TASKS = ("generate", "wait_wan")  # the tasks that wait in the triggerer
BLOCKING = "vidgen_blocking"  # tests/e2e/dags: the non-deferrable paths
BLOCKING_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_blocking.py"
BLOCKING_CONN = "acedata_e2e_db"  # created through the REST API, so it lives in the metadata DB
BLOCKING_SUBMITS = 2  # generate_blocking, submit_only
FIRST_HOUR = "vidgen_first_hour"  # tests/e2e/dags: mistakes fixed, then cleared
FIRST_HOUR_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_first_hour.py"
CALLBACKS = "vidgen_callbacks"  # tests/e2e/dags: finished by the vendor's callbacks
CALLBACKS_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_callbacks.py"
CANCEL = "vidgen_cancel"  # tests/e2e/dags: waiting generations marked failed (on_kill)
CANCEL_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_cancel.py"
# Forged manifests and results beside a real download (the Videos view's hostile-XCom tests use it too).
HOSTILE_DAG = REPO / "tests" / "dags" / "hostile_dags.py"
# A third-party vendor (tests/toy_vendor, installed in the venv as its own distribution) with callbacks.
TOY_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_toy.py"
BALANCE = "vidgen_e2e_balance"
BALANCE_DAG = Path(__file__).resolve().parent / "dags" / "vidgen_balance.py"
BALANCE_ITEMS, BALANCE_PAID = 200, 80  # the batch, and the submissions the emulator's balance pays for
TOY = "vidgen_toy"
HOSTILE = "videos_view_hostile"
FINISHED = ("success", "failed")
# The README's quickstart DAG with one ordinary mistake each (tests/test_readme_quickstart.py makes the same):
# a misspelt model in .partial() is an import error; a generation that fails fails the run.
QUICKSTART_DAG = re.compile(r"^<!-- quickstart:dag \S+ -->\n```python\n(.*?)^```$", re.M | re.S)
TYPO, MISSING = "first_videos_typo", "first_videos_missing"
MISTAKES = {
    TYPO: ('.partial(task_id="hailuo", ', '.partial(task_id="hailuo", model="minimax-t2v-turbo", '),
    MISSING: ('"A fox trotting through snow"', '"A fox trotting through snow [fail]"'),
}
CLOCK_HOLD_LIMIT = 90.0  # seconds the emulator's clock may stand still while the pipeline's tasks defer


# ------------------------------------------------------------------------------------------------
# processes
# ------------------------------------------------------------------------------------------------


def airflow_env(work: Path, emulator_url: str, api_port: int, log_ports: tuple[int, int]) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent  # standalone spawns `airflow` subcommands from PATH
    api = f"http://127.0.0.1:{api_port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "VIDGEN"))}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",  # so the standalone log is complete when it is killed
            "AIRFLOW_HOME": str(work / "airflow_home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": os.urandom(16).hex(),
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(48).hex(),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # The worker supervisor notices a finished task process only every min_heartbeat_interval
            # (default 5 s). A deferring task whose exit is noticed after its trigger already fired
            # and the resumed try was queued gets failed by the scheduler (Airflow 3.3.2 race), so
            # keep that window short.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The pipeline's connection, prompts and destination, as an operator would set them.
            "AIRFLOW_CONN_ACEDATA_DEFAULT": json.dumps(
                {"conn_type": "acedata", "host": emulator_url, "password": TOKEN}
            ),
            "AIRFLOW_VAR_VIDGEN_PROMPTS": json.dumps(PROMPTS),
            "AIRFLOW_VAR_VIDGEN_VIDEO_ROOT": f"file://{work / 'videos'}",
            # The deployment's choice of what the Videos view may serve: the downloads' folder.
            "AIRFLOW__VIDGEN__MEDIA_ROOTS": str(work / "videos"),
            "VIDGEN_POLL_INTERVAL": "1",
        }
    )
    return env


# ------------------------------------------------------------------------------------------------
# REST API
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------


def run(work: Path, report: Report, budget: float) -> None:
    started = time.monotonic()
    deadline = started + budget
    (work / "dags").mkdir(parents=True)
    for name in DAG_FILES:
        shutil.copy(REPO / "dags_examples" / name, work / "dags" / name)
    shutil.copy(BLOCKING_DAG, work / "dags" / BLOCKING_DAG.name)
    shutil.copy(FIRST_HOUR_DAG, work / "dags" / FIRST_HOUR_DAG.name)
    shutil.copy(CALLBACKS_DAG, work / "dags" / CALLBACKS_DAG.name)
    shutil.copy(CANCEL_DAG, work / "dags" / CANCEL_DAG.name)
    shutil.copy(HOSTILE_DAG, work / "dags" / HOSTILE_DAG.name)
    shutil.copy(TOY_DAG, work / "dags" / TOY_DAG.name)
    shutil.copy(BALANCE_DAG, work / "dags" / BALANCE_DAG.name)
    write_quickstart_mistakes(work / "dags")
    api_port, worker_log_port, trigger_log_port = free_ports(3)
    log_path = work / "standalone.log"
    print(f"Work folder: {work}\nStandalone log: {log_path}", flush=True)

    # Long enough that every generation is still running when its task defers (so it must wait in
    # the triggerer), short enough for a quick run.
    with EmulatorServer(token=TOKEN, queued_seconds=3, running_seconds=4) as emulator:
        env = airflow_env(work, emulator.url, api_port, (worker_log_port, trigger_log_port))
        with log_path.open("w") as log:
            process = subprocess.Popen(
                ["airflow", "standalone"],
                env=env,
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as a whole in finally
            )
        try:
            _exercise(Api(f"http://127.0.0.1:{api_port}"), process, work, emulator, report, deadline, started)
        finally:
            print("Stopping airflow standalone ...", flush=True)
            stop_group(process)
            report.check("every started process stopped", not group_alive(process.pid))


def _exercise(api: Api, process, work: Path, emulator, report: Report, deadline: float, started: float) -> None:
    def alive() -> None:
        if process.poll() is not None:
            raise Failed(f"airflow standalone exited with {process.returncode}; see {work / 'standalone.log'}")

    print("Waiting for the API server and the DAG processor ...", flush=True)
    wait_for(lambda: alive() or api.client.get("/api/v2/monitor/health").status_code == 200, deadline, "the API")
    api.login(work / "airflow_home", deadline)
    wait_for(
        lambda: (
            alive()
            or all(
                api.client.get(f"/api/v2/dags/{d}").status_code == 200
                for d in (PIPELINE, PUBLISH, BLOCKING, FIRST_HOUR, CALLBACKS, CANCEL, MISSING)
            )
        ),
        deadline,
        "the DAGs to be parsed",
    )
    pipeline = api.get(f"/api/v2/dags/{PIPELINE}")
    _import_errors(api, report)
    print(f"Airflow is up after {time.monotonic() - started:.0f} s", flush=True)

    # The blocking DAG's connection, in the metadata DB (not the environment): its task processes
    # can only get it from their supervisor, through the Execution API.
    api.send(
        "POST",
        "/api/v2/connections",
        {"connection_id": BLOCKING_CONN, "conn_type": "acedata", "host": emulator.url, "password": TOKEN},
    )

    # Trigger the run the scheduler would create next (so unpausing adds no second run), then unpause.
    # The blocking DAG (schedule=None) runs alongside.
    # The emulator's clock stands still until every generation task of the pipeline is seen deferred in the
    # triggerer: a video that finished before its sensor's first poke would let the sensor end without
    # deferring (correct behaviour, but not what this run checks), and a short deferral could fall between
    # two looks at the task instances.
    emulator.hold_clock()
    held_since: float | None = time.monotonic()
    logical_date = pipeline.get("next_dagrun_logical_date")
    run_id = f"e2e__{int(time.time())}"
    api.send("POST", f"/api/v2/dags/{PIPELINE}/dagRuns", {"dag_run_id": run_id, "logical_date": logical_date})
    blocking_run_id = f"e2e_blocking__{int(time.time())}"
    api.send("POST", f"/api/v2/dags/{BLOCKING}/dagRuns", {"dag_run_id": blocking_run_id, "logical_date": None})
    for dag_id in (PIPELINE, PUBLISH, BLOCKING):
        api.send("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    print(f"Triggered {PIPELINE} run {run_id} (logical date {logical_date}) and {BLOCKING} run", flush=True)

    # Watch the task instances of both runs: every generation task of the pipeline must be seen
    # deferred, held by the triggerer; the blocking DAG's never.
    runs = {PIPELINE: run_id, BLOCKING: blocking_run_id}
    seen: dict[str, dict[tuple[str, int], set[str]]] = {dag_id: {} for dag_id in runs}
    triggers: dict[str, dict[tuple[str, int], dict[str, Any]]] = {dag_id: {} for dag_id in runs}
    with_trigger: dict[str, set[tuple[str, int]]] = {dag_id: set() for dag_id in runs}  # in any state
    states: dict[str, str | None] = dict.fromkeys(runs)
    finished_after: dict[str, float] = {}
    while time.monotonic() < deadline:
        alive()
        for dag_id, dag_run_id in runs.items():
            if states[dag_id] in FINISHED:
                continue
            for ti in api.task_instances(dag_id, dag_run_id):
                key = (ti["task_id"], ti["map_index"])
                seen[dag_id].setdefault(key, set()).add(ti["state"] or "none")
                if ti.get("trigger"):
                    with_trigger[dag_id].add(key)
                held = triggers[dag_id].get(key) or {}
                if ti["state"] == "deferred" and ti.get("trigger") and not held.get("triggerer_job"):
                    triggers[dag_id][key] = {**ti["trigger"], "triggerer_job": ti.get("triggerer_job")}
            states[dag_id] = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}")["state"]
            if states[dag_id] in FINISHED:
                finished_after[dag_id] = time.monotonic() - started
        deferred = [k for k, t in triggers[PIPELINE].items() if k[0] in GENERATION_TASKS and t.get("triggerer_job")]
        if held_since is not None and (
            len(deferred) == 2 * len(PROMPTS) + 1 or time.monotonic() - held_since > CLOCK_HOLD_LIMIT
        ):
            emulator.release_clock()  # past the limit the checks below say which task never deferred
            held_since = None
        if all(state in FINISHED for state in states.values()):
            break
        time.sleep(0.3)
    if held_since is not None:
        emulator.release_clock()
    _check_blocking(api, blocking_run_id, states[BLOCKING], seen[BLOCKING], with_trigger[BLOCKING], emulator, report)
    state = states[PIPELINE]
    elapsed = finished_after.get(PIPELINE, time.monotonic() - started)
    tis = {(ti["task_id"], ti["map_index"]): ti for ti in api.task_instances(PIPELINE, run_id)}
    report.check(
        f"{PIPELINE} run succeeded",
        state == "success",
        f"state {state} after {elapsed:.0f} s; " + ", ".join(f"{k[0]}[{k[1]}]={v['state']}" for k, v in tis.items()),
    )
    if state != "success":
        raise Failed("the pipeline run did not succeed")

    retried = {f"{k[0]}[{k[1]}]": ti["try_number"] for k, ti in tis.items() if ti["try_number"] > 1}
    if retried:  # a retry reattaches to the vendor task (the submission count below stays exact)
        print(f"  note: retried task instances (try numbers): {retried}", flush=True)
    waiting = [key for key in tis if key[0] in GENERATION_TASKS]
    report.check(
        "generation tasks ran (2 services x prompts, plus the batch sensor)", len(waiting) == 2 * len(PROMPTS) + 1
    )
    not_deferred = [key for key in waiting if "deferred" not in seen[PIPELINE].get(key, set())]
    report.check(
        "every generation task passed through 'deferred'", not not_deferred, f"not seen deferred: {not_deferred}"
    )
    held = [key for key in waiting if (triggers[PIPELINE].get(key) or {}).get("triggerer_job")]
    classpaths = {t.get("classpath") for t in triggers[PIPELINE].values()}
    report.check(
        "their triggers were held by the triggerer",
        len(held) == len(waiting),
        f"{len(held)}/{len(waiting)} with a triggerer job; {sorted(c for c in classpaths if c)}",
    )

    # The triggerer fired the events the tasks resumed with (the task log shows the event).
    # (Any try: a try that was retried reattaches to the finished vendor task and does not defer.)
    fired = []
    for task_id, map_index in waiting:
        for try_number in range(tis[(task_id, map_index)]["try_number"], 0, -1):
            text = task_log(api, PIPELINE, run_id, task_id, map_index, try_number)
            if "Trigger fired event" in text and "'status': 'success'" in text:
                fired.append((task_id, map_index))
                break
    report.check("the triggerer fired every task's event", len(fired) == len(waiting), f"{len(fired)}/{len(waiting)}")

    found = error_lines(api, PIPELINE, run_id, tis.values())
    report.check("no error line in the logs of the pipeline's successful tasks", not found, f"{found[:3]}")
    counts = emulator.stats()["counts"]
    report.check(
        "the emulator saw one submission per generation and batched polls",
        counts["submit"] == 3 * len(PROMPTS) + BLOCKING_SUBMITS and counts["retrieve_batch"] > 0,
        f"submit={counts['submit']} retrieve_batch={counts['retrieve_batch']} retrieve={counts['retrieve']}",
    )

    # The videos at the templated destination, as the manifest says.
    manifest = api.xcom(PIPELINE, run_id, "download")["files"]
    folder = work / "videos" / run_id  # the example templates on run_id (a UI/REST run has no logical date)
    problems = []
    for entry in manifest:
        path = Path(entry["destination_uri"].removeprefix("file://"))
        if path.parent != folder or not path.is_file():
            problems.append(f"{path}: missing or outside {folder}")
            continue
        data = path.read_bytes()
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"{path}: size/sha256 differ from the manifest")
    videos = [e for e in manifest if e["kind"] == "video"]
    report.check(
        f"videos downloaded to videos/{run_id}/ with the manifest's sizes and sha256",
        not problems and len(videos) == 3 * len(PROMPTS),
        f"{len(videos)} videos, {len(manifest) - len(videos)} thumbnails" + (f"; {problems}" if problems else ""),
    )
    report.check(
        "manifest.json and gallery.html written next to them",
        (folder / "manifest.json").is_file() and (folder / "gallery.html").is_file(),
    )

    # The asset event, and the DAG it schedules.
    events = api.get("/api/v2/assets/events", source_dag_id=PIPELINE, source_run_id=run_id)["asset_events"]
    extras = [e.get("extra") or {} for e in events if e.get("uri") == "vidgen://videos/daily"]
    report.check(
        "asset event recorded for vidgen://videos/daily",
        len(extras) == 1 and extras[0].get("files") == len(manifest),
        json.dumps(extras)[:300],
    )

    def published() -> Any:
        alive()
        runs = api.get(f"/api/v2/dags/{PUBLISH}/dagRuns")["dag_runs"]
        return [r for r in runs if r["state"] in ("success", "failed")]

    try:
        runs = wait_for(published, deadline, f"a {PUBLISH} run")
        ok = runs[0]["state"] == "success" and runs[0]["run_type"] == "asset_triggered"
        detail = f"{runs[0]['dag_run_id']}: {runs[0]['state']}"
        if ok:
            result = api.xcom(PUBLISH, runs[0]["dag_run_id"], "publish")
            ok = bool(result) and result[0]["videos"] == 3 * len(PROMPTS) and (folder / "playlist.m3u").is_file()
            detail += f", {result}"
    except Failed as err:
        ok, detail = False, str(err)
    report.check(f"the asset scheduled {PUBLISH}, which verified the files", ok, detail)

    # The Video extra link, rendered by the API server.
    link_path = f"/api/v2/dags/{PIPELINE}/dagRuns/{run_id}/taskInstances/generate/links"
    links = api.get(link_path, map_index=0).get("extra_links") or {}
    generated = api.xcom(PIPELINE, run_id, "generate", map_index=0)
    report.check(
        "Video extra link served by the API server",
        links.get("Video") == generated["videos"][0]["url"],
        f"{links}",
    )
    _videos_view(api, run_id, report)
    _hostile_xcom(api, work, report, deadline)
    _first_hour(api, emulator, report, deadline)
    _callbacks(api, emulator, report, deadline)
    _toy_vendor(api, emulator, report, deadline)
    _cancel(api, emulator, report, deadline)
    _missing_video(api, emulator, report, deadline)
    _balance(api, emulator, report, deadline)


def write_quickstart_mistakes(dags: Path) -> None:
    """The README's quickstart DAG, once per mistake in ``MISTAKES``, as its own DAG."""
    body = QUICKSTART_DAG.search((REPO / "README.md").read_text())[1]
    for dag_id, (old, new) in MISTAKES.items():
        if old not in body or 'DAG("first_videos"' not in body:
            raise Failed(f"the README's quickstart DAG changed: {old!r} not found")
        (dags / f"{dag_id}.py").write_text(body.replace('DAG("first_videos"', f'DAG("{dag_id}"').replace(old, new))


def _import_errors(api: Api, report: Report) -> None:
    """The only import error is the quickstart with a misspelt model in .partial(): it names the model and
    the allowed ones, and the DAG does not exist (so nothing can be sent for it)."""
    errors = api.get("/api/v2/importErrors")["import_errors"]
    typo = [e for e in errors if e["filename"].endswith(f"{TYPO}.py")]
    text = typo[0]["stack_trace"] if typo else ""
    report.check(
        "a misspelt model in .partial() is the only DAG import error, naming the model and the allowed values",
        len(errors) == 1
        and "model: must be one of 'minimax-t2v', 'minimax-i2v', 'minimax-i2v-director'; got 'minimax-t2v-turbo'"
        in text
        and "checked when the DAG was parsed" in text
        and api.client.get(f"/api/v2/dags/{TYPO}").status_code == 404,
        f"{[(e['filename'], e['stack_trace'][-300:]) for e in errors]}",
    )


def _missing_video(api: Api, emulator, report: Report, deadline: float) -> None:
    """The quickstart with one generation that fails: the run is failed, the download says what is missing and
    what to do, keeps the two videos, and the Videos view lists the failure; no XCom lookup error is logged."""
    run_id = f"e2e_missing__{int(time.time())}"
    api.trigger(MISSING, run_id)
    state = api.run_end(MISSING, run_id, deadline)
    tis = {(ti["task_id"], ti["map_index"]): ti for ti in api.task_instances(MISSING, run_id)}
    download = task_log(api, MISSING, run_id, "download", -1, tis[("download", -1)]["try_number"])
    manifest = api.xcom(MISSING, run_id, "download")
    counts = [manifest.get(key) for key in ("generations", "downloaded", "failed", "never_ran")]
    report.check(
        "a failed generation fails the run: the download counts it, names it and says what to clear",
        state == "failed"
        and tis[("download", -1)]["state"] == "failed"
        and counts == [3, 2, 1, 0]
        and "3 generation(s) asked for: 2 downloaded, 1 failed, 0 never ran" in download
        and "together with this task ('download')" in download,
        f"run {state}; manifest {counts}; " + ", ".join(f"{k[0]}[{k[1]}]={v['state']}" for k, v in tis.items()),
    )
    path = f"/vidgen/dags/{MISSING}/runs/{quote(run_id, safe='')}/videos.json"
    page = api.get(path)
    failed = [item for item in page["items"] if item["state"] == "failed"]
    report.check(
        "the failed run's Videos view lists the failed generation with its error, and plays the other two",
        page["counts"]["failed"] == 1
        and page["counts"]["succeeded"] == 2
        and failed
        and "[fail]" in (failed[0].get("prompt") or "")
        and failed[0]["error"]["code"] == "api_error"
        and sum(bool(item["video"]) for item in page["items"]) == 2,
        f"counts {page['counts']}; failed {failed[:1]}",
    )
    logs = [
        task_log(api, MISSING, run_id, task_id, map_index, ti["try_number"])
        for (task_id, map_index), ti in tis.items()
        if task_id != "download"
    ]
    report.check(
        "no XCom lookup error in the generation tasks' logs, the failed one included",
        logs and not any("XCom not found" in text for text in logs),
        f"{sum('XCom not found' in text for text in logs)} log(s) with one",
    )


def _videos_view(api: Api, run_id: str, report: Report) -> None:
    """The run's Videos view, served by the plugin in the real API server: the tab, the links, every
    generation, the downloaded bytes (sha256 against the manifest), a Range request, and 401 without login."""
    try:
        quoted = quote(run_id, safe="")
        view = f"/vidgen/dags/{PIPELINE}/runs/{quoted}/videos"
        plugins = api.get("/api/v2/plugins")["plugins"]
        tabs = [v for p in plugins if p["name"] == "airflow-provider-vidgen" for v in p.get("external_views", [])]
        links = api.get(f"/api/v2/dags/{PIPELINE}/dagRuns/{run_id}/taskInstances/download/links")["extra_links"]
        page = api.get(f"{view}.json", per_page=500)
        manifest = api.xcom(PIPELINE, run_id, "download")
        played = [item for item in page["items"] if item["video"]]
        first = played[0]["video"] if played else "media/none/-1/0"
        whole = api.client.get(f"/vidgen/dags/{PIPELINE}/runs/{quoted}/{first}")
        part = api.client.get(f"/vidgen/dags/{PIPELINE}/runs/{quoted}/{first}", headers={"Range": "bytes=10-19"})
        anonymous = httpx.get(f"{api.base}{view}", timeout=30, trust_env=False)
        sha = {entry["sha256"] for entry in manifest["files"]}
        ok = (
            [tab["destination"] for tab in tabs] == ["dag_run"]
            and str(links.get("Videos")).endswith(view)
            and page["counts"]["total"] == manifest["generations"]
            and len(played) == manifest["downloaded"]
            and hashlib.sha256(whole.content).hexdigest() in sha
            and part.status_code == 206
            and part.content == whole.content[10:20]
            and anonymous.status_code == 401
        )
        detail = (
            f"tabs {tabs}, link {links.get('Videos')}, counts {page['counts']}, {len(played)} played, "
            f"media {whole.status_code}/{part.status_code}, anonymous {anonymous.status_code}"
        )
    except Failed as err:
        ok, detail = False, str(err)
    report.check("the run's Videos view, served by the API server, plays the downloaded files", ok, detail)


def _hostile_xcom(api: Api, work: Path, report: Report, deadline: float) -> None:
    """A run whose plain tasks return forged manifests (a secret outside the downloads with its true size, an
    HTML page, a link out, markup in a probe's width) beside a real download: nothing forged is served or
    printed raw, and the real video still plays in the tab."""
    run_id = f"e2e_hostile__{int(time.time())}"
    try:
        api.trigger(HOSTILE, run_id, {"root": f"file://{work / 'videos'}"})
        state = api.run_end(HOSTILE, run_id, deadline)
        base = f"/vidgen/dags/{HOSTILE}/runs/{quote(run_id, safe='')}"
        forged = [api.client.get(f"{base}/media/download/-1/{n}") for n in range(5)]
        page = api.client.get(f"{base}/videos")
        items = api.get(f"{base}/videos.json", per_page=500)["items"]
        real = [item for item in items if item["airflow_task_id"] == "generate"]
        played = api.client.get(f"{base}/{real[0]['video']}") if real and real[0]["video"] else None
        secret_size = str(len((work / "videos").parent.joinpath("secret.txt").read_text()))
        ok = (
            state == "success"
            and all(answer.status_code == 404 and "secret" not in answer.text for answer in forged)
            and all(
                secret_size not in answer.text and "html" not in answer.headers["content-type"] for answer in forged
            )
            and '<img src=x onerror="alert(1)">' not in page.text
            and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page.text
            and played is not None
            and played.status_code == 200
            and played.headers["content-type"] == "video/mp4"
        )
        detail = (
            f"run {state}; forged media {[answer.status_code for answer in forged]}; "
            f"real video {played.status_code if played is not None else 'not offered'}"
        )
    except (Failed, KeyError, OSError) as err:
        ok, detail = False, f"{type(err).__name__}: {err}"
    report.check("forged manifests serve nothing and print no markup; the real download plays", ok, detail)


def _first_hour(api: Api, emulator, report: Report, deadline: float) -> None:
    """A connection without a token, and an ambiguous submission: each task fails with a message that says
    what to do; doing it (set the token, clear the task) gives a working task (real clear, real retries)."""
    for conn_id, token in (("hidream_first_hour", None), ("hidream_e2e_db", TOKEN)):
        api.send(
            "POST",
            "/api/v2/connections",
            {"connection_id": conn_id, "conn_type": "hidream", "host": emulator.url, "password": token},
        )
    emulator.configure(ambiguous_submit_rate=1.0)  # every other run is done: only this one submits now
    created = emulator.stats()["tasks_created"]
    run_id = f"e2e_first_hour__{int(time.time())}"
    api.trigger(FIRST_HOUR, run_id)
    first = api.run_end(FIRST_HOUR, run_id, deadline)
    emulator.configure(ambiguous_submit_rate=0.0)
    tis = {ti["task_id"]: ti for ti in api.task_instances(FIRST_HOUR, run_id)}
    no_token = task_log(api, FIRST_HOUR, run_id, "no_token", -1, tis["no_token"]["try_number"])
    ambiguous = task_log(api, FIRST_HOUR, run_id, "ambiguous", -1, tis["ambiguous"]["try_number"])
    report.check(
        "a connection without a token fails at once, says to set it and clear the task, and sends nothing",
        first == "failed"
        and tis["no_token"]["state"] == "failed"
        and "has no API token" in no_token
        and "then clear this task" in no_token
        and emulator.stats()["tasks_created"] == created + 1,  # only the ambiguous task's
        f"run {first}; no_token {tis['no_token']['state']}; "
        f"tasks created {emulator.stats()['tasks_created'] - created}",
    )
    report.check(
        "an ambiguous submission fails without a retry and says to clear the task if the console has none",
        tis["ambiguous"]["state"] == "failed" and "if there is none, clear this task to submit again" in ambiguous,
        f"ambiguous {tis['ambiguous']['state']}",
    )

    api.send(
        "PATCH",
        "/api/v2/connections/hidream_first_hour",
        {"connection_id": "hidream_first_hour", "conn_type": "hidream", "host": emulator.url, "password": TOKEN},
    )
    body = {"dag_run_id": run_id, "task_ids": ["no_token", "ambiguous"], "only_failed": True, "dry_run": False}
    api.send("POST", f"/api/v2/dags/{FIRST_HOUR}/clearTaskInstances", body)
    second = api.run_end(FIRST_HOUR, run_id, deadline)  # the clear queued the run again
    tis = {ti["task_id"]: ti for ti in api.task_instances(FIRST_HOUR, run_id)}
    cleared = task_log(api, FIRST_HOUR, run_id, "ambiguous", -1, tis["ambiguous"]["try_number"])
    report.check(
        "after the token was set and the tasks cleared, both succeeded (the ambiguous one submitted again)",
        second == "success" and "so it submits again" in cleared and emulator.stats()["tasks_created"] == created + 3,
        f"run {second}; "
        + ", ".join(f"{t}={ti['state']} (try {ti['try_number']})" for t, ti in tis.items())
        + f"; tasks created {emulator.stats()['tasks_created'] - created}",
    )


def _callbacks(api: Api, emulator, report: Report, deadline: float) -> None:
    """Tasks that wait with a safety poll of an hour end within the budget: by the vendor's callbacks,
    received by the API server's receiver, confirmed with the vendor's API, resuming the deferred tasks."""
    api.send(
        "POST",
        "/api/v2/connections",
        {
            "connection_id": "acedata_callbacks",
            "conn_type": "acedata",
            "host": emulator.url,
            "password": TOKEN,
            "extra": json.dumps({"callback_base_url": api.base}),
        },
    )
    before = emulator.stats()["counts"]
    run_id = f"e2e_callbacks__{int(time.time())}"
    api.trigger(CALLBACKS, run_id)
    state = api.run_end(CALLBACKS, run_id, deadline)
    tis = {ti["task_id"]: ti for ti in api.task_instances(CALLBACKS, run_id)}
    waiting = ("single", "batch", "collect")
    logs = {task: task_log(api, CALLBACKS, run_id, task, -1, tis[task]["try_number"]) for task in waiting}
    ids = [
        api.xcom(CALLBACKS, run_id, "single", "vendor_task_id"),
        *api.xcom(CALLBACKS, run_id, "batch", "vendor_task_id"),
    ]
    ids.append(api.xcom(CALLBACKS, run_id, "submit_only", "vendor_task_id"))
    delivered = emulator.delivered_callbacks()
    counts = emulator.stats()["counts"]
    refused = counts.get("callback_refused", 0) - before.get("callback_refused", 0)
    report.check(
        "tasks with an hour's safety poll ended within the budget, each resumed by the vendor's callbacks",
        state == "success"
        and all("Resumed by the vendor's callback" in logs[task] for task in waiting)
        and all(task_id in delivered for task_id in ids),
        f"run {state}; "
        + ", ".join(f"{t}={tis[t]['state']} resumed-by-callback={'Resumed by' in logs[t]}" for t in waiting)
        + f"; final callbacks answered for {sum(task_id in delivered for task_id in ids)}/{len(ids)} ids",
    )
    report.check("no callback of the run was refused by the receiver", refused == 0, f"{refused} refused")
    ended = [epoch_seconds(tis[task]["end_date"]) for task in waiting]
    lag = max(ended) - max(delivered[task_id] for task_id in ids)
    print(f"Last final callback to last waiting task's end: {lag:.1f} s", flush=True)


def _toy_vendor(api: Api, emulator, report: Report, deadline: float) -> None:
    """A vendor of another distribution, found by its entry point in the worker, the triggerer and the API
    server (its DAG file registers nothing): deferred, polled by the triggerer, resumed by its callbacks
    through the API server's receiver, downloaded."""
    api.send(
        "POST",
        "/api/v2/connections",
        {
            "connection_id": "toyvideo_default",
            "conn_type": "toyvideo",
            "host": emulator.url,
            "password": TOKEN,
            "extra": json.dumps({"callback_base_url": api.base}),
        },
    )
    before = emulator.stats()["by_vendor"].get("toy", {})
    run_id = f"e2e_toy__{int(time.time())}"
    try:
        api.trigger(TOY, run_id)
        state = api.run_end(TOY, run_id, deadline)
        tis = {ti["task_id"]: ti for ti in api.task_instances(TOY, run_id)}
        logs = {task: task_log(api, TOY, run_id, task, -1, tis[task]["try_number"]) for task in ("one", "batch")}
        after = emulator.stats()["by_vendor"].get("toy", {})
        polls = sum(after.get(kind, 0) - before.get(kind, 0) for kind in ("retrieve", "retrieve_batch"))
        manifest = api.xcom(TOY, run_id, "download")
        registers = "register_vendor" in TOY_DAG.read_text()
        ok = (
            state == "success"
            and all("Resumed by the vendor's callback" in log for log in logs.values())
            and polls >= 1
            and manifest["downloaded"] == 3
            and not registers
        )
        detail = (
            f"run {state}; resumed by callback: {[t for t, log in logs.items() if 'Resumed by' in log]}; "
            f"toy status requests {polls}; downloaded {manifest.get('downloaded')}; DAG registers: {registers}"
        )
    except (Failed, KeyError) as err:
        ok, detail = False, f"{type(err).__name__}: {err}"
    report.check("a vendor of another distribution runs under standalone, resumed by its callbacks", ok, detail)


def _cancel(api: Api, emulator, report: Report, deadline: float) -> None:
    """A user marks waiting generations failed: the triggerer calls on_kill, MiniMax's queued task is
    cancelled at the vendor, Hailuo's (no cancel) is named as going on, and nothing else is sent."""
    emulator.hold_clock()  # every task stays queued until the end of this phase
    try:
        before = emulator.stats()["counts"]
        run_id = f"e2e_cancel__{int(time.time())}"
        api.send("POST", f"/api/v2/dags/{CANCEL}/dagRuns", {"dag_run_id": run_id, "logical_date": None})
        api.send("PATCH", f"/api/v2/dags/{CANCEL}", {"is_paused": False})

        def deferred_and_polled() -> bool:
            states = {ti["task_id"]: ti["state"] for ti in api.task_instances(CANCEL, run_id)}
            polls = emulator.stats()["counts"]["retrieve_batch"] - before["retrieve_batch"]
            return states == {"minimax": "deferred", "hailuo": "deferred"} and polls >= 2

        wait_for(deferred_and_polled, deadline, "both generations waiting in the triggerer")
        ids = {task: api.xcom(CANCEL, run_id, task, "vendor_task_id") for task in ("minimax", "hailuo")}
        for task in ids:
            path = f"/api/v2/dags/{CANCEL}/dagRuns/{run_id}/taskInstances/{task}"
            api.send("PATCH", path, {"new_state": "failed"})

        def minimax_status() -> str | None:
            task = emulator.state.tasks.get(ids["minimax"])
            return "cancelled" if task is not None and task.outcome == "cancelled" else None

        wait_for(minimax_status, deadline, "the MiniMax task to be cancelled at the vendor")
        log = ""

        def hailuo_named() -> bool:
            nonlocal log
            tis = {ti["task_id"]: ti for ti in api.task_instances(CANCEL, run_id)}
            log = task_log(api, CANCEL, run_id, "hailuo", -1, tis["hailuo"]["try_number"])
            return "cannot cancel hailuo tasks, so these generations go on" in log

        wait_for(hailuo_named, deadline, "the Hailuo task's log to say its generation goes on")
        deletes = emulator.stats()["counts"]["delete"] - before["delete"]
        report.check(
            "marked failed while waiting: MiniMax's queued task cancelled at the vendor, Hailuo's named as going on",
            deletes == 1 and ids["hailuo"] in log,
            f"delete requests {deletes}; hailuo log names its task: {ids['hailuo'] in log}",
        )
    finally:
        emulator.release_clock()


def _balance(api: Api, emulator, report: Report, deadline: float) -> None:
    """A 200-video batch whose balance runs out after 80: at most 5 used_up answers, the task fails saying to
    top up, then clear; after the top-up, a clear through the REST API finishes 200 of 200, each prompt
    submitted (created, paid) exactly once over both tries. Last phase: the emulator is reset for it."""
    emulator.reset()
    emulator.configure(balance_submissions=BALANCE_PAID)
    run_id = f"e2e_balance__{int(time.time())}"
    api.trigger(BALANCE, run_id)
    first = api.run_end(BALANCE, run_id, deadline)
    ti = api.task_instances(BALANCE, run_id)[0]
    text = task_log(api, BALANCE, run_id, "generate", -1, ti["try_number"])
    refused = emulator.stats()["counts"]["used_up"]
    report.check(
        f"a {BALANCE_ITEMS}-video batch whose balance pays for {BALANCE_PAID}: <= 5 used_up answers, the task "
        "fails (no retry) saying to top up, then clear",
        first == "failed"
        and ti["try_number"] == 1
        and 1 <= refused <= 5
        and emulator.stats()["tasks_created"] == BALANCE_PAID
        and "top it up in the Ace Data Cloud console, then clear this task" in text
        and "check the API token" not in text,
        f"run {first}, try {ti['try_number']}, {refused} used_up, {emulator.stats()['tasks_created']} created",
    )
    emulator.configure(balance_submissions=BALANCE_ITEMS)  # the top-up
    body = {"dag_run_id": run_id, "task_ids": ["generate"], "only_failed": True, "dry_run": False}
    api.send("POST", f"/api/v2/dags/{BALANCE}/clearTaskInstances", body)
    second = api.run_end(BALANCE, run_id, deadline)
    results = api.xcom(BALANCE, run_id, "generate") if second == "success" else []
    stats = emulator.stats()
    report.check(
        "after the top-up and a clear through the REST API: 200 succeeded results in XCom, each prompt "
        "submitted exactly once over both tries",
        second == "success"
        and [result["state"] for result in results] == ["succeeded"] * BALANCE_ITEMS
        and stats["tasks_created"] == BALANCE_ITEMS
        and stats["prompts"] == {"distinct": BALANCE_ITEMS, "most_tasks_per_prompt": 1, "prompts_created_twice": 0}
        and stats["counts"]["used_up"] == refused,
        f"run {second}, {sum(r['state'] == 'succeeded' for r in results)} succeeded, {stats['prompts']}, "
        f"{stats['counts']['used_up'] - refused} used_up in the second try",
    )
    emulator.configure(balance_submissions=None)


def epoch_seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _check_blocking(
    api: Api,
    run_id: str,
    state: str | None,
    seen: dict[tuple[str, int], set[str]],
    with_trigger: set[tuple[str, int]],
    emulator,
    report: Report,
) -> None:
    """The non-deferrable paths, in a real LocalExecutor worker (checked whatever the pipeline did)."""
    tis = {ti["task_id"]: ti for ti in api.task_instances(BLOCKING, run_id)}
    summary = ", ".join(f"{task_id}={ti['state']} (try {ti['try_number']})" for task_id, ti in tis.items())
    ok = report.check(f"{BLOCKING} run succeeded", state == "success", f"state {state}; {summary}")
    if not ok:
        for task_id, ti in tis.items():
            if ti["state"] != "success":
                lines = task_log(api, BLOCKING, run_id, task_id, -1, max(ti["try_number"], 1)).splitlines()
                print(f"---- last lines of the {task_id} log ----\n" + "\n".join(lines[-25:]), flush=True)
        return

    found = error_lines(api, BLOCKING, run_id, tis.values())
    report.check("no error line in the logs of the blocking DAG's tasks", not found, f"{found[:3]}")

    # In its task process: the trigger's own log lines (state changes) are in the task's log, and no
    # event came from a triggerer.
    key = ("generate_blocking", -1)
    text = task_log(api, BLOCKING, run_id, "generate_blocking", -1, tis["generate_blocking"]["try_number"])
    polled_inline = "airflow_provider_vidgen.triggers.video" in text and ": succeeded" in text
    report.check(
        "the blocking generation waited in its worker: never 'deferred', no trigger, polled in-process",
        "deferred" not in seen.get(key, set())
        and key not in with_trigger
        and not tis["generate_blocking"].get("trigger")
        and polled_inline
        and "Trigger fired event" not in text,
        f"states seen {sorted(seen.get(key, set()))}; ever had a trigger: {key in with_trigger}; "
        f"trigger log lines in the task log: {polled_inline}",
    )
    result = api.xcom(BLOCKING, run_id, "generate_blocking") or {}
    urls = [video.get("url") or "" for video in result.get("videos") or []]
    report.check(
        "its XCom result is the succeeded emulator video",
        result.get("state") == "succeeded" and len(urls) == 1 and urls[0].startswith(f"{emulator.url}/files/"),
        f"state {result.get('state')}, videos {urls}",
    )

    submitted = api.xcom(BLOCKING, run_id, "submit_only") or {}
    collected = api.xcom(BLOCKING, run_id, "wait_blocking")
    sensor_states = seen.get(("wait_blocking", -1), set())
    report.check(
        "the non-deferrable sensor (reschedule mode) returned the submit-only task as succeeded",
        submitted.get("state") == "pending"
        and [(r.get("task_id"), r.get("state")) for r in collected or []] == [(submitted.get("task_id"), "succeeded")]
        and "up_for_reschedule" in sensor_states
        and "deferred" not in sensor_states,
        f"submitted {submitted.get('task_id')} ({submitted.get('state')}); returned "
        f"{[(r.get('task_id'), r.get('state')) for r in collected or []]}; states seen {sorted(sensor_states)}",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, DB, videos)")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds before giving up (default 270)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="vidgen-e2e-"))
    report = Report()
    error = None
    try:
        run(work, report, args.budget)
    except Failed as err:
        error = str(err)
    except Exception as err:  # report, clean up, exit non-zero
        error = f"{type(err).__name__}: {err}"
    if error:
        report.check("no error", False, error)
        log = work / "standalone.log"
        if log.exists():
            print("---- last lines of the standalone log ----")
            print("\n".join(log.read_text(errors="replace").splitlines()[-60:]))
    elapsed = time.monotonic() - started
    failed = [name for ok, name, _ in report.rows if not ok]
    print(
        f"\n{'PASS' if report.ok else 'FAIL'}: end-to-end run, {len(report.rows) - len(failed)}/{len(report.rows)} "
        f"checks passed in {elapsed:.0f} s" + (f"; failed: {failed}" if failed else "")
    )
    (work / "report.json").write_text(
        json.dumps([{"ok": ok, "check": name, "detail": detail} for ok, name, detail in report.rows])
    )
    if args.keep or not report.ok:
        print(f"Kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
