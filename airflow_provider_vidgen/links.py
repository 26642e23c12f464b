"""The "Video" extra link on generation operators and the sensor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

from airflow_provider_vidgen.xcom import VIDEO_URL as VIDEO_URL_XCOM

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import BaseOperator

    from airflow_provider_vidgen.core.results import TaskResult


class VideoLink(BaseOperatorLink):
    """Opens the (first) generated video; empty until a video exists."""

    name = "Video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(key=VIDEO_URL_XCOM, ti_key=ti_key)
        return url if isinstance(url, str) else ""


def push_video_url(context: Any, results: Sequence[TaskResult]) -> None:
    """Keep the first video's URL in XCom for the link (the worker renders links from XCom); "" for none yet."""
    url = next((video.url for result in results for video in result.videos), "")
    context["ti"].xcom_push(key=VIDEO_URL_XCOM, value=url)
