"""DAGs the download tests run with dag.test(): generate against the emulator, then download."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG, Asset, task

from airflow_provider_vidgen.operators.acedata import HailuoVideoOperator, LumaVideoOperator
from airflow_provider_vidgen.operators.download import VideoDownloadOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor
from dags.faults import from_upstream

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.2
TEST_VIDEOS = Asset("vidgen://videos/test-download")
LUMA_PROMPTS = ["a red fox in snow", "a paper boat on a lake", "this one fails [fail]"]

with DAG(
    "download_pipeline",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"root": "file:///tmp/vidgen-download-test"},
) as pipeline_dag:
    # Mapped, one map index fails: its result lives only in XCom "failure".
    generate = LumaVideoOperator.partial(task_id="generate", deferrable=True, poll_interval=POLL).expand(
        prompt=LUMA_PROMPTS
    )
    # Times out while the vendor is still rendering: no result and no "failure", only its vendor task id.
    too_slow = LumaVideoOperator(
        task_id="too_slow", prompt="a glacier calving [slow]", deferrable=True, poll_interval=POLL, timeout=0.4
    )
    submitted = HailuoVideoOperator.partial(task_id="submit", wait_for_completion=False).expand(
        prompt=["a lighthouse at dusk", "this one fails [fail]"]
    )
    wait = VideoTaskSensor(
        task_id="wait",
        task_ids=submitted.output,
        service="hailuo",
        deferrable=True,
        poke_interval=POLL,
        timeout=60,
        fail_on_failed=False,  # the failed result reaches the download, which lists it
    )
    VideoDownloadOperator(
        task_id="download",
        results=[generate.output, too_slow.output, wait.output],
        # run_id, not ds: a run triggered from the UI or the REST API has no logical date.
        destination="{{ params.root }}/{{ run_id }}/",
        include_thumbnails=True,
        outlets=[TEST_VIDEOS],
        fail_on_failed=False,  # the failures are listed in the manifest; this run is green on purpose
    )


@task
def no_prompts() -> list[str]:
    raise AirflowFailException("no prompts today (on purpose)")


with DAG(
    "download_missing", schedule=None, start_date=START, catchup=False, params={"root": "file:///tmp/vidgen-missing"}
) as missing_dag:
    # Four generations asked for: one succeeds, one fails at the vendor, one fails before submitting (its
    # model comes from upstream XCom, so it is checked when the task runs), one never runs.
    hailuo = HailuoVideoOperator.partial(task_id="hailuo", deferrable=True, poll_interval=POLL).expand_kwargs(
        from_upstream(
            "hailuo_args",
            [{"prompt": "a kite"}, {"prompt": "doomed [fail]"}, {"prompt": "a typo", "model": "minimax-t2v-turbo"}],
        )
    )
    never = HailuoVideoOperator.partial(task_id="never", deferrable=True, poll_interval=POLL).expand(
        prompt=no_prompts()
    )
    VideoDownloadOperator(
        task_id="download", results=[hailuo.output, never.output], destination="{{ params.root }}/{{ run_id }}/"
    )
