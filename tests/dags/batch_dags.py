"""DAGs of the batch tests (tests/test_batch.py), run with dag.test() against the emulator over HTTP.

``CrashingHailuoBatch`` is the only test double: its first try dies (raises) on the items after the
first few, as a worker that dies mid-batch would; every later try is the real operator.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import DAG

from airflow_provider_vidgen.core.batch import chunks
from airflow_provider_vidgen.operators.acedata import AceDataBatchVideoOperator, HailuoBatchVideoOperator
from airflow_provider_vidgen.operators.hidream import HiDreamBatchVideoOperator
from dags.faults import failing_submissions, from_upstream

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.1
NO_DELAY = pendulum.duration(seconds=0)
CRASH_AFTER = 4  # accepted submissions before try 1 dies
PROMPTS = [f"a paper boat, take {n}" for n in range(10)]
MIXED = ["a fox", "doomed [fail]", "a heron", "doomed again [fail]", "a lighthouse"]
SEEDANCE = "doubao-seedance-1-5-pro-251215"


class CrashingHailuoBatch(HailuoBatchVideoOperator):
    """Try 1 dies when it reaches the items after the first CRASH_AFTER (those are accepted and
    recorded); later tries are healthy. Which items die is fixed, so overlapping submissions cannot
    change what the retry finds."""

    def get_hook(self) -> Any:
        def fail(submission: Any, send: Any) -> str:
            if submission.body["prompt"] in PROMPTS[CRASH_AFTER:]:
                raise AirflowException("worker lost (simulated crash mid-batch)")
            return send()

        hook = super().get_hook()
        return failing_submissions(hook, fail) if self._try_number == 1 else hook

    def execute(self, context: Any) -> Any:
        self._try_number = context["ti"].try_number
        return super().execute(context)


LOST = PROMPTS[4:6]  # answered by the vendor, then the try dies before recording their ids


class LosingAnswers:
    """Try 1 dies right after the vendor accepted the LOST items, before their ids are recorded: the
    crash window. A retry must find them on the vendor side (or, where the API cannot list tasks,
    report them and not resend), never pay for them twice."""

    def get_hook(self) -> Any:
        def fail(submission: Any, send: Any) -> str:
            task_id = send()
            if submission.body.get("prompt") in LOST:
                raise AirflowException(f"worker lost after the vendor answered {task_id} (simulated)")
            return task_id

        hook = super().get_hook()  # type: ignore[misc]
        return failing_submissions(hook, fail) if self._try_number == 1 else hook

    def execute(self, context: Any) -> Any:
        self._try_number = context["ti"].try_number
        return super().execute(context)  # type: ignore[misc]


class LosingHailuoBatch(LosingAnswers, HailuoBatchVideoOperator):
    pass


class LosingHiDreamBatch(LosingAnswers, HiDreamBatchVideoOperator):
    pass


# Paced submission through 429s (the connection's extra sets the pace; the emulator refuses some).
with DAG("batch_paced", schedule=None, start_date=START, catchup=False) as paced_dag:
    HailuoBatchVideoOperator(
        task_id="gen", prompts=PROMPTS, acedata_conn_id="acedata_paced", deferrable=True, poll_interval=POLL
    )

# A crash mid-batch: the retry reattaches to what try 1 submitted and submits only the rest.
with DAG("batch_crash", schedule=None, start_date=START, catchup=False) as crash_dag:
    CrashingHailuoBatch(
        task_id="gen", prompts=PROMPTS, deferrable=True, poll_interval=POLL, retries=1, retry_delay=NO_DELAY
    )

# Partial failure, all must succeed: try 1 fails after waiting; the retry resubmits only the failed items.
with DAG("batch_partial_retry", schedule=None, start_date=START, catchup=False) as partial_retry_dag:
    HailuoBatchVideoOperator(
        task_id="gen", prompts=MIXED, deferrable=True, poll_interval=POLL, retries=1, retry_delay=NO_DELAY
    )

# Partial failure within the policy: the task succeeds and the failures stay in the list, in order;
# blocking wait (no deferral), usage totals, and .expand() over chunks.
with DAG("batch_policy", schedule=None, start_date=START, catchup=False) as policy_dag:
    HailuoBatchVideoOperator(task_id="gen", prompts=MIXED, min_success=0.6, deferrable=False, poll_interval=POLL)
    AceDataBatchVideoOperator(
        task_id="seedance",
        service="seedance",
        bodies=[{"model": SEEDANCE, "content": [{"type": "text", "text": f"a kitten {n}"}]} for n in range(3)],
        deferrable=True,
        poll_interval=POLL,
    )
    HiDreamBatchVideoOperator.partial(task_id="chunks", deferrable=True, poll_interval=POLL).expand(
        prompts=chunks([f"a clownfish {n}" for n in range(5)], 2)
    )

# Bad items fail before any request, naming the index and field (templated, so checked at run time).
with DAG("batch_bad_items", schedule=None, start_date=START, catchup=False) as bad_items_dag:
    HailuoBatchVideoOperator(task_id="blank", prompts=["a kite", "{{ '  ' }}", "a tree"], deferrable=True)
    HailuoBatchVideoOperator(
        task_id="i2v", prompts=["a kite", "a tree"], model="{{ 'minimax-i2v' }}", first_image_urls=None
    )
    # From upstream XCom: checked when the task runs (a literal list is a DAG import error: test_validation).
    HailuoBatchVideoOperator.partial(task_id="too_many", max_items=3).expand(
        prompts=from_upstream("too_many_prompts", [["x"] * 4])
    )
    HailuoBatchVideoOperator(
        task_id="lengths", prompts=["a", "b"], first_image_urls=["{{ 'https://a.example/1.jpg' }}"]
    )

# The crash window: ids answered but never recorded. Ace Data can list tasks by creation time, so
# the retry finds them by their request; HiDream cannot, so they are reported and not resent.
with DAG("batch_lost_answers", schedule=None, start_date=START, catchup=False) as lost_answers_dag:
    LosingHailuoBatch(
        task_id="acedata", prompts=PROMPTS, deferrable=True, poll_interval=POLL, retries=1, retry_delay=NO_DELAY
    )
    LosingHiDreamBatch(
        task_id="hidream",
        prompts=PROMPTS,
        min_success=len(PROMPTS) - len(LOST),
        deferrable=True,
        poll_interval=POLL,
        retries=1,
        retry_delay=NO_DELAY,
    )

# A budget of two submissions for five prompts: three items are not submitted, the batch policy fails it.
with DAG("batch_budget", schedule=None, start_date=START, catchup=False) as budget_dag:
    HailuoBatchVideoOperator(
        task_id="gen",
        prompts=[f"a paper lantern, take {n}" for n in range(5)],
        deferrable=True,
        poll_interval=POLL,
        max_submissions=2,
    )
