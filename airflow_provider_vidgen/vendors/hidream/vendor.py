"""HiDream: requests and the reading of its answers (pure; the module rows are in ``services.py``).

Every answer is an envelope ``{code, message, request_id, result}`` with ``code == 0`` for OK; task
status is an integer per sub-task (API_CONTRACT.md Part 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.results import (
    MODERATION_REJECTED,
    NO_VIDEO,
    NOT_FOUND,
    TaskError,
    TaskResult,
    Video,
)
from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.core.transport import RETRYABLE_STATUSES, ApiRequest, Outcome, json_body, parse_retry_after
from airflow_provider_vidgen.core.vendor import ConnectionField, Vendor
from airflow_provider_vidgen.vendors.hidream.services import (
    BASE_PATH,
    DONE,
    FAILED,
    REJECTED,
    SERVICES,
    WAITING,
)

LABEL = "HiDream"


class HiDream(Vendor):
    """HiDream's video modules (v2 txt2video, img2video, video_edit; v3 txt2video, img2video, keyframe2video)."""

    name = "hidream"
    label = LABEL
    conn_type = "hidream"
    default_host = "https://www.hidreamai.com"
    services = SERVICES
    service_word = "module"
    connection_fields = (
        ConnectionField("user_id", "User ID", "Optional end-user id, sent as the API-User-ID header."),
    )
    hook_class = "airflow_provider_vidgen.hooks.hidream:HiDreamHook"
    callback_field = "notify_url"
    emulated_by = "airflow_provider_vidgen.vendors.hidream.emulated:HiDreamFace"

    # ---------------------------------------------------------------- requests

    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]:
        headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
        if extras.get("user_id"):
            headers["API-User-ID"] = str(extras["user_id"])
        return headers

    def submit_request(self, spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest:
        return ApiRequest("POST", spec.submit_path, "submit", json=dict(body))

    def retrieve_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest:
        return ApiRequest("GET", spec.poll_path, "retrieve", params={"task_id": task_id})

    def batch_request(self, spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest:
        if not spec.batch_retrieve:  # v3: batch_flow retrieves one id at a time; never call an undocumented path
            raise ValueError(f"{LABEL} {spec.name} has no batch-results endpoint")
        body = {"task_id_list": list(task_ids)}
        return ApiRequest("POST", f"{spec.poll_path}/batch", "retrieve_batch", json=body)

    def probe_request(self) -> ApiRequest:
        """Cheap, authenticated, creates nothing: ask for the results of an empty batch."""
        return ApiRequest("POST", f"{BASE_PATH}/txt2video/async/results/batch", "probe", json={"task_id_list": []})

    # ---------------------------------------------------------------- answers

    def decode(self, outcome: Outcome, request: ApiRequest, *, allow_not_found: bool = False) -> Any:
        """``result`` of an OK envelope, or ApiError carrying HiDream's code and message."""
        body = json_body(LABEL, outcome, request)
        envelope = isinstance(body, dict) and "code" in body
        if outcome.status >= 400 or not envelope:
            message = body.get("message") if isinstance(body, dict) else None
            raise ApiError(
                LABEL,
                str(message or ("answer is not a HiDream envelope" if outcome.status < 400 else "request failed")),
                status=outcome.status,
                code=str(body["code"]) if envelope else ("non_json" if body is None else None),
                retryable=outcome.status in RETRYABLE_STATUSES or outcome.status < 400,
                nothing_created=outcome.status == 429
                or (outcome.status >= 500 and envelope)
                or 400 <= outcome.status < 500,
                retry_after=parse_retry_after(outcome.headers),
            )
        if body["code"] != 0:
            # A business error answered by HiDream itself: the request was refused, nothing created.
            raise ApiError(LABEL, str(body.get("message") or "error"), code=str(body["code"]), nothing_created=True)
        return body.get("result")

    def parse_submit(self, body: Any) -> str:
        task_id = body.get("task_id") if isinstance(body, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ApiError(LABEL, f"submission answer has no result.task_id: {str(body)[:200]}", code="no_task_id")
        return task_id

    def parse_batch(self, spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]:
        if not isinstance(body, list):
            raise ApiError(LABEL, f"batch result is not a list: {str(body)[:200]}", code="bad_answer")
        by_id = {item["task_id"]: item for item in body if isinstance(item, dict) and item.get("task_id")}
        return {task_id: self.interpret_record(spec, task_id, by_id.get(task_id)) for task_id in task_ids}

    def interpret_record(self, spec: ServiceSpec, task_id: str, record: Any) -> TaskResult:
        """One task (``{task_id, sub_task_results}``) to the normalized result; done when all sub-tasks are."""
        if not isinstance(record, dict):
            error = TaskError(NOT_FOUND, f"{LABEL} does not know task {task_id} (module {spec.name})")
            return TaskResult(task_id, spec.name, self.name, "failed", error=error)
        subtasks = [sub for sub in record.get("sub_task_results") or [] if isinstance(sub, dict)]
        statuses = [sub.get("task_status") for sub in subtasks]
        done = [sub["task_completion"] for sub in subtasks if isinstance(sub.get("task_completion"), int | float)]
        progress = round(sum(done) / len(subtasks), 4) if subtasks and done else None
        videos = tuple(
            Video(
                url=sub["video"],
                watermarked_url=sub.get("video_wm") or None,
                video_id=str(sub["sub_task_id"]) if sub.get("sub_task_id") else None,
            )
            for sub in subtasks
            if isinstance(sub.get("video"), str) and sub["video"]
        )

        def result(state: str, error: TaskError | None = None, media: tuple[Video, ...] = ()) -> TaskResult:
            return TaskResult(task_id, spec.name, self.name, state, progress, media, error)  # type: ignore[arg-type]

        if REJECTED in statuses:
            return result("failed", TaskError(MODERATION_REJECTED, f"{LABEL} content review rejected task {task_id}"))
        if FAILED in statuses:
            return result("failed", TaskError("failed", f"{LABEL} reported task {task_id} as failed"))
        if not subtasks:  # sub-tasks appear a little after submission, and never for an id HiDream does not know
            return replace(result("pending"), unknown=True)
        if all(status == DONE for status in statuses):
            if len(videos) == len(subtasks):
                return result("succeeded", media=videos)
            return result("failed", TaskError(NO_VIDEO, f"task {task_id} finished without a video"))
        if all(status == WAITING for status in statuses):
            return result("pending")
        return result("running")  # 2 = processing; negative statuses are transient

    def read_callback(self, spec: ServiceSpec, body: Any) -> tuple[str | None, bool]:
        """``notify_url`` bodies: ``{main_task_id, sub_task_results}`` (v2 docs) or ``{main_task_id, result}``
        (batch docs), where ``result`` is the task record."""
        if isinstance(body, dict) and isinstance(body.get("result"), dict):
            record = body["result"]
            task_id = body.get("main_task_id") or record.get("task_id")
            if isinstance(task_id, str) and task_id:
                return task_id, self.interpret_record(spec, task_id, record).terminal
        return super().read_callback(spec, body)


HIDREAM = HiDream()
