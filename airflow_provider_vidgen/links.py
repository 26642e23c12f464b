"""The "Video" extra link on generation operators and the sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

VIDEO_URL_XCOM = "video_url"


class VideoLink(BaseOperatorLink):
    """Opens the (first) generated video; empty until a video exists."""

    name = "Video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(key=VIDEO_URL_XCOM, ti_key=ti_key)
        return url if isinstance(url, str) else ""
