"""Daily content pipeline: prompts -> videos on several services -> object storage -> asset event.

1. ``load_prompts``: today's prompts, from the Variable ``vidgen_prompts`` (a JSON list or one
   prompt per line) or else from ``content_prompts.txt`` next to this file.
2. ``generate``: every prompt on Hailuo and on Luma (dynamic task mapping across services),
   deferrable, so waiting costs no worker slot.
3. ``submit_wan`` + ``wait_wan``: every prompt on Wan, submitted without waiting, then one batch
   ``VideoTaskSensor`` waits for all of them (its polls are batched ``retrieve_batch`` calls).
4. ``download``: every video and thumbnail to ``<vidgen_video_root>/<run_id>/`` (the Variable
   ``vidgen_video_root``, e.g. ``s3://my-bucket/videos`` with the Amazon provider installed;
   default ``file:///tmp/vidgen/videos``), each probed as a real video, plus ``manifest.json``
   (every failure with its vendor task id) and ``gallery.html``. The folder is named after the
   run id, not ``ds``: a run triggered from the UI or the REST API has no logical date. It updates
   the asset ``vidgen://videos/daily``, which schedules ``vidgen_publish_videos``.

Connections: ``acedata_default`` (type ``acedata``). Try it without an account against the
emulator: run ``python -m airflow_provider_vidgen.emulator --port 8765`` and set
``AIRFLOW_CONN_ACEDATA_DEFAULT`` to
``{"conn_type": "acedata", "host": "http://127.0.0.1:8765", "password": "emulator-token"}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_vidgen.operators.acedata import AceDataVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

# Read at parse time from the environment only (cheap); everything else is read when tasks run.
POLL_INTERVAL = float(os.environ.get("VIDGEN_POLL_INTERVAL", "15"))
PROMPTS_FILE = Path(__file__).with_name("content_prompts.txt")
VIDEO_ROOT = "{{ var.value.get('vidgen_video_root', 'file:///tmp/vidgen/videos') }}"
DAILY_VIDEOS = Asset(uri="vidgen://videos/daily", name="vidgen_daily_videos")


def service_requests(prompt: str) -> list[dict]:
    """One generation per service for a prompt: the kwargs of one mapped ``generate`` task."""
    return [
        {"service": "hailuo", "body": {"action": "generate", "model": "minimax-t2v", "prompt": prompt}},
        {"service": "luma", "body": {"action": "generate", "prompt": prompt, "aspect_ratio": "16:9"}},
    ]


with DAG(
    "vidgen_content_pipeline",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["vidgen", "example"],
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=1)},
    doc_md=__doc__,
) as dag:

    @task
    def load_prompts() -> list[str]:
        from airflow.sdk import Variable

        raw = Variable.get("vidgen_prompts", default=None)
        if raw is None:
            raw = PROMPTS_FILE.read_text()
        try:
            prompts = json.loads(raw)
        except ValueError:
            prompts = [line for line in raw.splitlines() if not line.lstrip().startswith("#")]
        prompts = [str(prompt).strip() for prompt in prompts if str(prompt).strip()]
        if not prompts:
            raise ValueError("no prompts: set the vidgen_prompts Variable or fill content_prompts.txt")
        return prompts

    @task
    def plan_generations(prompts: list[str]) -> list[dict]:
        return [request for prompt in prompts for request in service_requests(prompt)]

    @task
    def wan_requests(prompts: list[str]) -> list[dict]:
        return [{"model": "wan2.6-t2v", "prompt": prompt} for prompt in prompts]

    prompts = load_prompts()

    # Every prompt on every service; the retry reattaches to the vendor task instead of paying twice.
    generate = AceDataVideoOperator.partial(
        task_id="generate", deferrable=True, poll_interval=POLL_INTERVAL, timeout=3600
    ).expand_kwargs(plan_generations(prompts))

    # Submit-only, then one sensor waits for the whole batch.
    submit_wan = AceDataVideoOperator.partial(task_id="submit_wan", service="wan", wait_for_completion=False).expand(
        body=wan_requests(prompts)
    )
    wait_wan = VideoTaskSensor(
        task_id="wait_wan",
        task_ids=submit_wan.output,
        service="wan",
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=3600,
        fail_on_failed=False,  # failed Wan generations reach the download, which names them and fails the run
    )

    VideoDownloadOperator(
        task_id="download",
        results=[generate.output, wait_wan.output],
        destination=VIDEO_ROOT + "/{{ run_id }}/",  # not {{ ds }}: UI and REST runs have no logical date
        include_thumbnails=True,
        outlets=[DAILY_VIDEOS],
    )
