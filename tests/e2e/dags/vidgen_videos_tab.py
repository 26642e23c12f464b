"""The run that the Videos tab's screenshots show (``tests/e2e/screenshots.py``): a batch of 20, a mapped
generation with one failure, and a download of all of them."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import HailuoBatchVideoOperator, LumaVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator

SUBJECTS = [
    "a paper boat on a moonlit lake", "a red fox in fresh snow", "a lighthouse at dusk", "a tram in the rain",
    "a kite over dunes", "a heron taking off", "a candle in the wind", "a glacier calving",
    "a hot-air balloon at dawn", "a koi pond in autumn", "a night market in the rain", "a windmill in a storm",
    "a desert road at noon", "a jellyfish in blue water", "a snowy mountain cabin", "a field of sunflowers",
    "a city skyline at night", "a waterfall in a forest", "a sailboat in a regatta", "a steam train on a bridge",
]  # fmt: skip

with DAG(
    "vidgen_videos_tab",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "e2e"],
    doc_md=__doc__,
) as dag:
    batch = HailuoBatchVideoOperator(task_id="batch", prompts=SUBJECTS, poll_interval=1)
    mapped = LumaVideoOperator.partial(task_id="mapped", poll_interval=1).expand(
        prompt=["a hummingbird at a flower", "a lantern festival", "this one fails on purpose [fail]"]
    )
    VideoDownloadOperator(
        task_id="download",
        results=[batch.output, mapped.output],
        destination="{{ var.value.vidgen_video_root }}/{{ run_id }}/",
        include_thumbnails=True,
        fail_on_failed=False,  # the failure is on purpose (the screenshots show it): this run stays green
    )

with DAG("vidgen_other", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), tags=["e2e"]) as other:
    LumaVideoOperator(task_id="other", prompt="a fox", poll_interval=1)
