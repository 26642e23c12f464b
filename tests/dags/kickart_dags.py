"""Kickart through the generic Ace Data operator, run with dag.test() against the emulator (tests/test_kickart.py).

The bodies are the spec's own examples (Docs openapi/kickart.json), the product video with a prompt so the
emulator's markers have a place; each is read back through POST /kickart/tasks.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_vidgen.operators.acedata import AceDataVideoOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
POLL = 0.2

PRODUCT = {
    "mode": "fast",
    "type": "intro",
    "product_url": "https://www.tiktok.com/view/product/172839182",
    "duration": 15,
    "language": "zh",
    "aspect_ratio": "9:16",
    "prompt": "a steel water bottle on a hiking trail",
}
VIRAL = {
    "mode": "pro",
    "ref_video": "https://static.bytednsdoc.com/obj/example/demo_video.mp4",
    "product_url": "https://www.tiktok.com/view/product/172839182",
    "language": "zh",
}
TEMPLATE = {
    "template_id": "1690784258",
    "resource_list": ["https://cdn.acedata.cloud/kickart/input.jpg"],
    "resolution": "1080p",
}

with DAG("kickart", schedule=None, start_date=START, catchup=False) as kickart_dag:
    AceDataVideoOperator(task_id="product", service="kickart", body=PRODUCT, deferrable=True, poll_interval=POLL)
    AceDataVideoOperator(task_id="viral", service="kickart-viral", body=VIRAL, poll_interval=POLL)
    AceDataVideoOperator(
        task_id="template", service="kickart-template", body=TEMPLATE, deferrable=True, poll_interval=POLL
    )
    AceDataVideoOperator(
        task_id="moderated",
        service="kickart",
        body={**PRODUCT, "prompt": "a product the moderation refuses [fail]"},
        deferrable=True,
        poll_interval=POLL,
    )
