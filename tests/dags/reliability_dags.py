"""DAGs of the reliability tests (tests/test_reliability.py, tests/test_secrets.py), run with dag.test().

``FlakyPollsHailuoOperator`` is the only test double: it switches the emulator's fault injection
around the first try (every poll of try 1 is dropped, try 2 sees a healthy API). Submitting,
reattaching and waiting are the real operator's code.
"""

from __future__ import annotations

from typing import Any

import httpx
import pendulum
from airflow.sdk import DAG, BaseHook

from airflow_provider_vidgen.operators.acedata import AceDataVideoOperator, HailuoVideoOperator
from airflow_provider_vidgen.operators.hidream import HiDreamVideoOperator
from airflow_provider_vidgen.sensors.video import VideoTaskSensor
from dags.faults import from_upstream

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.1
NO_DELAY = pendulum.duration(seconds=0)


def control_emulator(conn_id: str, endpoint: str, body: dict[str, Any]) -> None:
    """Post to a control endpoint of the emulator behind ``conn_id`` (they need no token)."""
    host = BaseHook.get_connection(conn_id).host
    httpx.post(f"{host}/_emulator/{endpoint}", json=body, timeout=5, trust_env=False).raise_for_status()


def configure_emulator(conn_id: str, **settings: Any) -> None:
    """Change the emulator's faults, limits or timings."""
    control_emulator(conn_id, "config", settings)


class FlakyPollsHailuoOperator(HailuoVideoOperator):
    """Try 1: once the generation is submitted, every request is dropped, so the trigger gives up.
    Try 2 and later: the API is healthy again. With ``finish_on_retry``, a later try that waits again (it
    reattached to a generation it found running) first moves the emulator's clock past its render: the
    generation stays running until then, however long the machine takes between the tries."""

    def __init__(self, *, finish_on_retry: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finish_on_retry = finish_on_retry

    def execute(self, context: Any) -> Any:
        self._try_number = context["ti"].try_number
        if self._try_number > 1:
            configure_emulator(self.acedata_conn_id, drop_rate=0.0)
        return super().execute(context)

    def defer(self, **kwargs: Any) -> Any:
        if getattr(self, "_try_number", 1) == 1:
            configure_emulator(self.acedata_conn_id, drop_rate=1.0)
        elif self.finish_on_retry:
            control_emulator(self.acedata_conn_id, "clock", {"advance": self.finish_on_retry})
        return super().defer(**kwargs)


RENDERS_FOR_AN_HOUR = 3600.0  # a generation that stays running until its task moves the emulator's clock


def flaky(**kwargs: Any) -> FlakyPollsHailuoOperator:
    return FlakyPollsHailuoOperator(
        deferrable=True, poll_interval=POLL, max_poll_failures=1, retries=1, retry_delay=NO_DELAY, **kwargs
    )


# A retry after the trigger gave up reattaches to the first try's generation.
with DAG("rel_reattach", schedule=None, start_date=START, catchup=False) as reattach_dag:
    flaky(task_id="gen", prompt="a kite over the dunes", finish_on_retry=RENDERS_FOR_AN_HOUR)

# The prompt changes between tries (it names the try): the retry starts a new generation.
with DAG("rel_changed_inputs", schedule=None, start_date=START, catchup=False) as changed_inputs_dag:
    flaky(task_id="gen", prompt="a kite, take {{ ti.try_number }}")

# reattach=False: every try is a fresh generation.
with DAG("rel_no_reattach", schedule=None, start_date=START, catchup=False) as no_reattach_dag:
    flaky(task_id="gen", prompt="a kite over the sea", reattach=False)

# A generation that failed on the vendor side is the one case a retry submits again.
with DAG("rel_failed_resubmits", schedule=None, start_date=START, catchup=False) as failed_resubmits_dag:
    HailuoVideoOperator(
        task_id="gen", prompt="doomed [fail]", deferrable=True, poll_interval=POLL, retries=1, retry_delay=NO_DELAY
    )

# The first try dies right after the vendor's answer (tests/test_crash_window.py): the retry finds it.
with DAG("rel_crash_window", schedule=None, start_date=START, catchup=False) as crash_window_dag:
    HailuoVideoOperator(
        task_id="gen",
        prompt="a heron, found again",
        deferrable=True,
        poll_interval=POLL,
        retries=1,
        retry_delay=NO_DELAY,
    )

# The submission's outcome is unknown: no automatic retry even though retries=1.
with DAG("rel_ambiguous", schedule=None, start_date=START, catchup=False) as ambiguous_dag:
    HailuoVideoOperator(
        task_id="gen", prompt="a lantern", deferrable=True, poll_interval=POLL, retries=1, retry_delay=NO_DELAY
    )

# The trigger's deadline passes while the vendor still works; the id is collected later (rel_collect).
with DAG("rel_timeout", schedule=None, start_date=START, catchup=False) as timeout_dag:
    HailuoVideoOperator(task_id="gen", prompt="a glacier calving", deferrable=True, poll_interval=POLL, timeout=0.5)

with DAG("rel_collect", schedule=None, start_date=START, catchup=False) as collect_dag:
    VideoTaskSensor(
        task_id="collect",
        task_ids="{{ dag_run.conf['task_ids'] }}",
        service="hailuo",
        deferrable=True,
        poke_interval=POLL,
        timeout=30,
    )

# Every place a token could leak to: XCom, trigger kwargs and events, rendered fields, logs.
with DAG("rel_secrets", schedule=None, start_date=START, catchup=False) as secrets_dag:
    HailuoVideoOperator(task_id="deferred", prompt="a red fox", deferrable=True, poll_interval=POLL)
    HiDreamVideoOperator(task_id="blocking", prompt="a clownfish", deferrable=False, poll_interval=POLL)
    HailuoVideoOperator(task_id="failed", prompt="doomed [fail]", deferrable=True, poll_interval=POLL)
    HailuoVideoOperator(
        task_id="timed_out", prompt="[slow] a glacier", deferrable=True, poll_interval=POLL, timeout=0.3
    )
    submitted = HailuoVideoOperator(task_id="submit_only", prompt="a lighthouse", wait_for_completion=False)
    VideoTaskSensor(
        task_id="sensor", task_ids=submitted.output, service="hailuo", deferrable=True, poke_interval=POLL, timeout=30
    )

# Bad input of every kind fails before any request (a sample of tests/test_validation.py's catalogue).
ACE_BAD = [
    {"service": "hailuo", "body": {"prompt": "boat", "model": "minimax-i2v"}},
    {"service": "hailuo", "body": {"prompt": "   "}},
    {"service": "luma", "body": {"action": "extend", "prompt": "more"}},
    {"service": "kling", "body": {"action": "text2video", "prompt": "x", "cfg_scale": 1.5}},
    {"service": "sora", "body": {"model": "sora-2", "prompt": "x", "duration": 7}},
    {"service": "seedance", "body": {"model": "doubao-seedance-2-0-260128", "content": []}},
    {"service": "happyhorse", "body": {"prompt": "x", "duration": 20}},
    {"service": "tiktok", "body": {"prompt": "x"}},
]
HIDREAM_BAD = [
    {"module": "img2video", "prompt": "waves"},
    {"module": "video_edit", "video_name": "https://a.example/v.mp4", "prompt": "x", "style": "anime"},
    {"module": "txt2video", "prompt": "x", "motion_strength": 31},
    {"module": "txt2audio", "prompt": "x"},
]
with DAG("rel_bad_input", schedule=None, start_date=START, catchup=False) as bad_input_dag:
    # Mapped from upstream XCom, so they are checked when the task runs (literal ones are DAG import errors).
    AceDataVideoOperator.partial(task_id="acedata", deferrable=True, poll_interval=POLL).expand_kwargs(
        from_upstream("ace_bad", ACE_BAD)
    )
    HiDreamVideoOperator.partial(task_id="hidream", deferrable=True, poll_interval=POLL).expand_kwargs(
        from_upstream("hidream_bad", HIDREAM_BAD)
    )
    HailuoVideoOperator.partial(task_id="bad_seconds", prompt="x").expand_kwargs(
        from_upstream("bad_seconds_given", [{"timeout": -1}, {"poll_interval": 0}])
    )
    HailuoVideoOperator(task_id="http_conn_operator", prompt="x", acedata_conn_id="plain_http", deferrable=True)
    VideoTaskSensor(task_id="http_conn_sensor", task_ids=["abc"], service="hailuo", conn_id="plain_http", timeout=5)
    VideoTaskSensor(
        task_id="http_conn_deferrable_sensor",
        task_ids=["abc"],
        service="hailuo",
        conn_id="plain_http",
        deferrable=True,
        timeout=5,
    )
