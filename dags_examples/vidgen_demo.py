"""Demo pipeline: several services, mapped prompts, a batch sensor, and one failure handled.

Run it with ``make demo`` (against the bundled emulator, or the real APIs when the
``acedata_default`` / ``hidream_default`` connections are configured).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_vidgen.operators.acedata import AceDataVideoOperator, HailuoVideoOperator, LumaVideoOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor

POLL_INTERVAL = float(os.environ.get("VIDGEN_DEMO_POLL_INTERVAL", "15"))
# Against the emulator, the "[fail]" marker makes a generation fail on purpose; against the real
# APIs the failing step is left out (it would be a paid generation).
ON_EMULATOR = os.environ.get("VIDGEN_DEMO_EMULATOR") == "1"
SUMMARY_FILE = os.environ.get("VIDGEN_DEMO_SUMMARY", "")

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

    hidream = HiDreamVideoOperator(task_id="hidream", module="txt2video", prompt="A clownfish among anemones")

    # Submit without waiting, then wait for all of them with one batch sensor.
    batch = AceDataVideoOperator.partial(task_id="wan_submit", service="wan", wait_for_completion=False).expand(
        body=[{"model": "wan2.6-t2v", "prompt": f"A neon market street, shot {n}"} for n in (1, 2)]
    )
    wan = VideoTaskSensor(task_id="wan_wait", task_ids=batch.output, service="wan", poke_interval=POLL_INTERVAL)

    generations = [hailuo, luma, kling, hidream, wan]
    if ON_EMULATOR:
        doomed = HailuoVideoOperator(task_id="hailuo_doomed", prompt="This one fails on purpose [fail]")
        generations.append(doomed)

    @task(trigger_rule="all_done")
    def summarize(**context) -> dict:
        """Collect every result, including the failure (its vendor task id comes from XCom)."""
        ti = context["ti"]
        rows = []
        for task_id in ("hailuo", "luma", "kling", "hidream", "wan_wait", "hailuo_doomed"):
            if task_id not in context["dag"].task_ids:
                continue
            map_indexes = range(len(PROMPTS)) if task_id == "hailuo" else None  # mapped: one per prompt
            values = ti.xcom_pull(task_ids=task_id, map_indexes=map_indexes)
            values = list(values) if map_indexes is not None else [values]
            failure = ti.xcom_pull(task_ids=task_id, key="failure")  # a failed generation, with its task id
            for value in [*values, failure]:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        rows.append({"step": task_id, **item})
        summary = {"results": rows}
        if SUMMARY_FILE:
            Path(SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
        for row in rows:
            urls = ", ".join(video["url"] for video in row.get("videos", []))
            print(f"{row['step']:<14} {row.get('state', '?'):<10} {row.get('task_id')}  {urls}")
        return summary

    generations >> summarize()
