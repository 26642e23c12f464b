"""Extra links: "Video" (the first video) and "Videos" (the task's place in its run's Videos view) on
generation operators and the sensor, and "Videos" (the whole run's view) on the download operator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

from airflow_provider_vidgen.core.typed import web_url
from airflow_provider_vidgen.xcom import VIDEO_URL as VIDEO_URL_XCOM

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import BaseOperator

    from airflow_provider_vidgen.core.results import TaskResult


class VideoLink(BaseOperatorLink):
    """Opens the (first) generated video; empty until a video exists, and for anything but an http(s) URL
    (the XCom may be edited: a ``javascript:`` link must never reach the UI)."""

    name = "Video"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return web_url(XCom.get_value(key=VIDEO_URL_XCOM, ti_key=ti_key)) or ""


def videos_view_url(dag_id: str, run_id: str, task_id: str | None = None) -> str:
    """The run's Videos view, served by the plugin under the API server's ``[api] base_url`` (relative to
    the UI's own origin when that is not set), showing one task's generations when ``task_id`` is given."""
    from airflow.configuration import conf

    from airflow_provider_vidgen.plugins.plugin import URL_PREFIX

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    url = f"{base}{URL_PREFIX}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/videos"
    return f"{url}?task_id={quote(task_id, safe='')}" if task_id else url


class TaskVideosLink(BaseOperatorLink):
    """This task's generations in the run's Videos view (all of a batch's, not only the first)."""

    name = "Videos"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return videos_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)


class RunVideosLink(BaseOperatorLink):
    """The run's Videos view: every generation of the run, playing the downloaded copies."""

    name = "Videos"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return videos_view_url(ti_key.dag_id, ti_key.run_id)


def push_video_url(context: Any, results: Sequence[TaskResult]) -> None:
    """Keep the first video's URL in XCom for the link (the worker renders links from XCom); "" for none yet,
    and for a URL that is not http(s) (a vendor's answer comes from outside)."""
    url = next((web_url(video.url) or "" for result in results for video in result.videos), "")
    context["ti"].xcom_push(key=VIDEO_URL_XCOM, value=url)
