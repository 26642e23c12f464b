"""Demo pipeline: several services, mapped prompts, a batch task, a batch sensor, one failure handled, a download.

Every video is downloaded next to ``manifest.json`` and ``gallery.html`` (a folder per run), probed
as a real video on the way; the failure is listed there with its vendor task id.

Run it with ``make demo`` (against the bundled emulator, or the real APIs when the
``acedata_default`` / ``hidream_default`` connections are configured).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_vidgen.operators.acedata import (
    AceDataVideoOperator,
    HailuoBatchVideoOperator,
    HailuoVideoOperator,
    LumaVideoOperator,
)
from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

POLL_INTERVAL = float(os.environ.get("VIDGEN_DEMO_POLL_INTERVAL", "15"))
# Against the emulator, the "[fail]" marker makes a generation fail on purpose; against the real
# APIs the failing step is left out (it would be a paid generation).
ON_EMULATOR = os.environ.get("VIDGEN_DEMO_EMULATOR") == "1"
SUMMARY_FILE = os.environ.get("VIDGEN_DEMO_SUMMARY", "")
VIDEO_ROOT = os.environ.get("VIDGEN_DEMO_VIDEOS", "/tmp/vidgen/demo-videos")

PROMPTS = [
    "A paper boat drifting across a moonlit lake",
    "A red fox trotting through fresh snow at dawn",
    "Time-lapse of clouds rolling over a mountain ridge",
]

with DAG(
    "vidgen_demo",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "demo"],
    default_args={"poll_interval": POLL_INTERVAL, "timeout": 1800},
) as dag:
    # One Hailuo generation per prompt (dynamic task mapping).
    hailuo = HailuoVideoOperator.partial(task_id="hailuo").expand(prompt=PROMPTS)

    luma = LumaVideoOperator(
        task_id="luma",
        prompt="An astronaut drifting from orbit down into a volcano",
        aspect_ratio="16:9",
    )

    kling = AceDataVideoOperator(
        task_id="kling",
        service="kling",
        body={"action": "text2video", "model": "kling-v2-6", "prompt": "A white mug on marble, camera orbits"},
    )

    hidream = HiDreamVideoOperator(task_id="hidream", service="txt2video", prompt="A clownfish among anemones")

    # Submit without waiting, then wait for all of them with one batch sensor.
    batch = AceDataVideoOperator.partial(task_id="wan_submit", service="wan", wait_for_completion=False).expand(
        body=[{"model": "wan2.6-t2v", "prompt": f"A neon market street, shot {n}"} for n in (1, 2)]
    )
    wan = VideoTaskSensor(task_id="wan_wait", task_ids=batch.output, service="wan", poke_interval=POLL_INTERVAL)

    # A whole batch in one task: paced submissions, one deferral, results in input order.
    hailuo_batch = HailuoBatchVideoOperator(
        task_id="hailuo_batch",
        prompts=[f"A lighthouse at dusk, take {n}" for n in range(1, 5)],
    )

    generations = [hailuo, luma, kling, hidream, wan, hailuo_batch]
    if ON_EMULATOR:
        doomed = HailuoVideoOperator(task_id="hailuo_doomed", prompt="This one fails on purpose [fail]")
        generations.append(doomed)

    # Runs when every generation is done, failed ones included (trigger_rule="all_done" by default):
    # downloads and probes every video, and lists every failure (read from the "failure" XCom).
    download = VideoDownloadOperator(
        task_id="download",
        results=[generation.output for generation in generations],
        destination=VIDEO_ROOT + "/{{ run_id }}/",  # not {{ ds }}: UI and REST runs have no logical date
        include_thumbnails=True,
        # A generation without a video fails the run (the default), except the one that fails on purpose on
        # the emulator: there 90% of the generations must download (12 of 13).
        min_success=0.9 if ON_EMULATOR else None,
    )

    @task(trigger_rule="all_done")
    def summarize(manifest: dict | None) -> dict:
        """The download's manifest is the summary: every video and every failure, with vendor task ids."""
        summary = manifest or {"files": [], "failures": [], "generations": 0, "downloaded": 0, "gallery": None}
        if SUMMARY_FILE:
            Path(SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
        return summary

    summarize(download.output)
