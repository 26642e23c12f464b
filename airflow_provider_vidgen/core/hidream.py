"""HiDream ("pixeling" v2 and v3): module table, request builders and response interpretation (pure functions).

Every answer is an envelope ``{code, message, request_id, result}`` with ``code == 0`` for OK;
task status is an integer per sub-task (API_CONTRACT.md Part 2). The v3 modules (``v3-txt2video``,
``v3-img2video``, ``v3-keyframe2video``) answer like v2, but HiDream documents no v3 batch-results
endpoint, so their specs say ``batch_retrieve=False`` and they are polled one id per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.core.results import (
    MODERATION_REJECTED,
    NO_VIDEO,
    NOT_FOUND,
    TaskError,
    TaskResult,
    Video,
)
from airflow_provider_vidgen.core.schema import FieldSpec as F
from airflow_provider_vidgen.core.schema import OneOf, ServiceSpec
from airflow_provider_vidgen.core.transport import (
    RETRYABLE_STATUSES,
    ApiRequest,
    Outcome,
    json_body,
    parse_retry_after,
)

VENDOR = "hidream"
LABEL = "HiDream"
DEFAULT_HOST = "https://www.hidreamai.com"
BASE_PATH = "/api-pub/gw/v2/video"
V3_BASE_PATH = "/api-pub/gw/v3/video"

WAITING, DONE, PROCESSING, FAILED, REJECTED = 0, 1, 2, 3, 4

STYLES = (
    "barbie_doll", "ink_wash", "van_goph", "hayao_miyazaki", "cyber_punk",
    "cartoon", "anime", "vector_art", "abstract", "watercolor",
)  # fmt: skip

COMMON_FIELDS = (F("request_id"), F("notify_url", "url"))
CAMERA_FIELDS = (
    F("camera_move_horizontal", "int", minimum=-5, maximum=5),
    F("camera_move_vertical", "int", minimum=-5, maximum=5),
    F("camera_move_depth", "int", minimum=-5, maximum=5),
    F("motion_strength", "number", minimum=0, maximum=30),
)
MOTION_FIELDS = (
    F("aspect_ratio", choices=("16:9", "1:1", "9:16")),
    F("resolution_ratio", "int", choices=(1024, 2048, 4096)),
    *CAMERA_FIELDS,
)
# v3 txt2video / img2video: a model version and a "W*H" resolution instead of v2's aspect/resolution ratio.
V3_MOTION_FIELDS = (
    F("negative_prompt"),
    F("version", choices=("v2",)),
    F("resolution", choices=("960*960", "1280*720", "720*1280")),
    *CAMERA_FIELDS,
)
# v3 keyframe2video: the first and the last frame (URL or base64 each); no camera or motion knobs.
KEYFRAME_FIELDS = (
    F("images", "list", required=True, min_items=2, max_items=2, item_type="media"),
    F("prompt"),
    F("negative_prompt"),
    F("version", choices=("v1.0-standard",)),
    F("resolution", choices=("keep",)),
    F("duration", "int", choices=(5, 10)),
)


def _module(name: str, fields: tuple[F, ...], **kwargs: Any) -> ServiceSpec:
    return ServiceSpec(
        vendor=VENDOR,
        name=name,
        submit_path=f"{BASE_PATH}/{name}/async",
        poll_path=f"{BASE_PATH}/{name}/async/results",
        fields=(*fields, *COMMON_FIELDS),
        **kwargs,
    )


def _v3_module(module: str, fields: tuple[F, ...], **kwargs: Any) -> ServiceSpec:
    """A v3 module, named ``v3-<module>`` so the v2 names stay as they are; results by single GET only."""
    return ServiceSpec(
        vendor=VENDOR,
        name=f"v3-{module}",
        submit_path=f"{V3_BASE_PATH}/{module}/async",
        poll_path=f"{V3_BASE_PATH}/{module}/async/results",
        fields=(*fields, *COMMON_FIELDS),
        batch_retrieve=False,
        **kwargs,
    )


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        _module("txt2video", (F("prompt", required=True), *MOTION_FIELDS)),
        _module("img2video", (F("image", "media", required=True), F("prompt"), *MOTION_FIELDS)),
        _module(
            "video_edit",
            (F("video_name", "media", required=True), F("prompt"), F("style", choices=STYLES)),
            rules=(OneOf(("prompt", "style"), exactly=True),),
        ),
        _v3_module("txt2video", (F("prompt", required=True), *V3_MOTION_FIELDS)),
        _v3_module("img2video", (F("image", "media", required=True), F("prompt"), *V3_MOTION_FIELDS)),
        _v3_module("keyframe2video", KEYFRAME_FIELDS),
    )
}


def get_service(name: str) -> ServiceSpec:
    try:
        return SERVICES[name]
    except KeyError:
        raise InvalidInputError("module", f"unknown {LABEL} module {name!r}; allowed: {', '.join(SERVICES)}") from None


def auth_headers(token: str, extras: Mapping[str, Any]) -> dict[str, str]:
    headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
    if extras.get("user_id"):
        headers["API-User-ID"] = str(extras["user_id"])
    return headers


def submit_request(spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("POST", spec.submit_path, "submit", json=dict(body))


def retrieve_request(spec: ServiceSpec, task_id: str) -> ApiRequest:
    return ApiRequest("GET", spec.poll_path, "retrieve", params={"task_id": task_id})


def batch_request(spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest:
    if not spec.batch_retrieve:  # v3: batch_flow retrieves one id at a time; never call an undocumented path
        raise ValueError(f"{LABEL} {spec.name} has no batch-results endpoint")
    return ApiRequest("POST", f"{spec.poll_path}/batch", "retrieve_batch", json={"task_id_list": list(task_ids)})


def probe_request() -> ApiRequest:
    """Cheap, authenticated, creates nothing: ask for the results of an empty batch."""
    return ApiRequest("POST", f"{BASE_PATH}/txt2video/async/results/batch", "probe", json={"task_id_list": []})


def decode(outcome: Outcome, request: ApiRequest, *, allow_not_found: bool = False) -> Any:
    """Return ``result`` of an OK envelope, or raise ApiError carrying HiDream's code and message."""
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


def parse_submit(body: Any) -> str:
    task_id = body.get("task_id") if isinstance(body, dict) else None
    if not isinstance(task_id, str) or not task_id:
        raise ApiError(LABEL, f"submission answer has no result.task_id: {str(body)[:200]}", code="no_task_id")
    return task_id


def parse_batch(spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]:
    if not isinstance(body, list):
        raise ApiError(LABEL, f"batch result is not a list: {str(body)[:200]}", code="bad_answer")
    by_id = {item["task_id"]: item for item in body if isinstance(item, dict) and item.get("task_id")}
    return {task_id: interpret_record(spec, task_id, by_id.get(task_id)) for task_id in task_ids}


def interpret_record(spec: ServiceSpec, task_id: str, record: Any) -> TaskResult:
    """One task (``{task_id, sub_task_results}``) to the normalized result; done when all sub-tasks are."""
    if not isinstance(record, dict):
        error = TaskError(NOT_FOUND, f"{LABEL} does not know task {task_id} (module {spec.name})")
        return TaskResult(task_id, spec.name, VENDOR, "failed", error=error)
    subtasks = [sub for sub in record.get("sub_task_results") or [] if isinstance(sub, dict)]
    statuses = [sub.get("task_status") for sub in subtasks]
    completions = [sub["task_completion"] for sub in subtasks if isinstance(sub.get("task_completion"), int | float)]
    progress = round(sum(completions) / len(subtasks), 4) if subtasks and completions else None
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
        return TaskResult(task_id, spec.name, VENDOR, state, progress, media, error)  # type: ignore[arg-type]

    if REJECTED in statuses:
        return result(
            "failed",
            TaskError(MODERATION_REJECTED, f"{LABEL} content review rejected task {task_id}"),
        )
    if FAILED in statuses:
        return result("failed", TaskError("failed", f"{LABEL} reported task {task_id} as failed"))
    if not subtasks:
        return result("pending")  # sub-tasks appear a little after submission
    if all(status == DONE for status in statuses):
        if len(videos) == len(subtasks):
            return result("succeeded", media=videos)
        return result("failed", TaskError(NO_VIDEO, f"task {task_id} finished without a video"))
    if all(status == WAITING for status in statuses):
        return result("pending")
    return result("running")  # 2 = processing; negative statuses are transient
