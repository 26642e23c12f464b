"""Ace Data Cloud: requests and the reading of its answers (pure; the service rows are in ``services.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.results import (
    NO_VIDEO,
    NOT_FOUND,
    TaskError,
    TaskResult,
    Video,
    clean_usage,
    request_prompt,
)
from airflow_provider_vidgen.core.schema import ServiceSpec, Shape
from airflow_provider_vidgen.core.transport import (
    RETRYABLE_STATUSES,
    ApiRequest,
    HttpResponse,
    Outcome,
    json_body,
    parse_retry_after,
)
from airflow_provider_vidgen.core.vendor import Vendor
from airflow_provider_vidgen.vendors.acedata.services import SERVICES

LABEL = "Ace Data Cloud"

# State words any service uses (API_CONTRACT.md §1.4.3 and §1.5), besides the ones its row declares;
# matched case-insensitively. ``expired``: Seedance ends a task that waited past its expiry.
FAILURE_WORDS = frozenset({"failed", "failure", "error", "cancelled", "canceled", "rejected", "dead", "expired"})
SUCCESS_WORDS = frozenset({"succeeded", "succeed", "success", "completed", "complete", "finished", "done"})
QUEUED_WORDS = frozenset({"queued", "pending", "waiting", "submitted", "created"})
ENVELOPE_KEYS = ("request", "_id", "api_id", "created_at")


class AceData(Vendor):
    """Hailuo, Luma, Kling, Sora, Veo, Seedance, Wan, MiniMax, Kickart and more behind one token."""

    name = "acedata"
    label = LABEL
    conn_type = "acedata"
    default_host = "https://api.acedata.cloud"
    docs_url = "https://platform.acedata.cloud"
    services = SERVICES
    hook_class = "airflow_provider_vidgen.hooks.acedata:AceDataHook"
    callback_field = "callback_url"
    # Docs en/concepts/async-tasks.mdx: "Stay under 1 req/s" when polling (its FAQ says 60 QPS for /tasks:
    # the stricter figure wins, as the one a 429 is promised at).
    polls_per_second = 1.0
    emulated_by = "airflow_provider_vidgen.vendors.acedata.emulated:AceDataFace"

    # ---------------------------------------------------------------- requests

    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]:
        return {"authorization": f"Bearer {token}", "accept": "application/json"}

    def submit_request(self, spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest:
        """The submission is always asynchronous on the API side (``async: true``)."""
        return ApiRequest("POST", spec.submit_path, "submit", json={**body, "async": True})

    def retrieve_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest:
        return ApiRequest("POST", spec.poll_path, "retrieve", json={"action": "retrieve", "id": task_id})

    def batch_request(self, spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest:
        body = {"action": "retrieve_batch", "ids": list(task_ids)}
        return ApiRequest("POST", spec.poll_path, "retrieve_batch", json=body)

    def search_request(
        self, spec: ServiceSpec, created_min: int, created_max: int, *, offset: int = 0, limit: int = 100
    ) -> ApiRequest:
        """``retrieve_batch`` by creation time (Unix seconds, inclusive): the tasks submitted in a window,
        newest first, one page (``offset``/``limit``)."""
        body = {
            "action": "retrieve_batch",
            "created_at_min": created_min,
            "created_at_max": created_max,
            "offset": offset,
            "limit": limit,
        }
        return ApiRequest("POST", spec.poll_path, "retrieve_batch", json=body)

    def cancel_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest | None:
        """MiniMax: ``delete`` cancels a queued task (Docs minimax_tasks.mdx); a running one cannot be."""
        if not spec.cancellable:
            return None
        return ApiRequest("POST", spec.poll_path, "cancel", json={"action": "delete", "id": task_id})

    def read_cancel(self, body: Any) -> bool:
        return isinstance(body, dict) and body.get("deleted") is True

    def probe_request(self) -> ApiRequest:
        """Retrieve a task id that cannot exist: authenticated, creates nothing."""
        body = {"action": "retrieve", "id": "00000000-0000-0000-0000-000000000000"}
        return ApiRequest("POST", "/hailuo/tasks", "probe", json=body)

    # ---------------------------------------------------------------- answers

    def decode(self, outcome: Outcome, request: ApiRequest, *, allow_not_found: bool = False) -> Any:
        """The JSON body of a successful answer, or ApiError for every failure form."""
        body = json_body(LABEL, outcome, request)
        if outcome.status < 400:
            if body is None:
                raise ApiError(LABEL, "answer is not JSON", status=outcome.status, code="non_json", retryable=True)
            return body
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if allow_not_found and outcome.status == 404 and code == NOT_FOUND:
            return {}
        message = error.get("message") if isinstance(error, dict) else error
        # A 5xx with the platform's own error envelope was answered by the platform, which rejected
        # the request; a bare 502/503 from a proxy may have lost an accepted one.
        enveloped = isinstance(error, dict) and bool(code)
        raise http_error(outcome, code, message, enveloped, body)

    def parse_submit(self, body: Any) -> str:
        """The task id of an accepted submission: top level, then ``data.task_id``, then ``id``."""
        if isinstance(body, dict):
            data = body.get("data")
            for candidate in (body.get("task_id"), data.get("task_id") if isinstance(data, dict) else None):
                if isinstance(candidate, str) and candidate:
                    return candidate
            if body.get("success") is False:
                error = body.get("error") or {}
                raise ApiError(LABEL, str(error.get("message") or error), code=error.get("code"))
            if isinstance(body.get("id"), str):
                return body["id"]
        raise ApiError(LABEL, f"submission answer has no task_id: {str(body)[:200]}", code="no_task_id")

    def parse_batch(self, spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]:
        by_id: dict[str, dict[str, Any]] = {}
        for item in self.parse_search(body):
            if key := record_id(item):
                # MiniMax lists bare task objects in batches but wraps a single one as {"task": ...}.
                by_id[key] = {"task": item} if spec.shape is Shape.TASK and "task" not in item else item
        return {task_id: self.interpret_record(spec, task_id, by_id.get(task_id, {})) for task_id in task_ids}

    def parse_search(self, body: Any) -> list[dict[str, Any]]:
        """The task records of a ``retrieve_batch`` answer (MiniMax's bare task objects included)."""
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ApiError(LABEL, f"retrieve_batch answer has no items list: {str(body)[:200]}", code="bad_answer")
        return [item for item in items if isinstance(item, dict)]

    def interpret_record(self, spec: ServiceSpec, task_id: str, record: Any) -> TaskResult:
        """One task record to the normalized result, read where the service's row says first.

        Record forms: the detailed record (``{id, request, response?, finished_at?}``), a flat poll body
        (the response itself), MiniMax's ``{task: {...}}``, and ``{}`` for an unknown id.
        """
        if not isinstance(record, dict) or not record:
            error = TaskError(NOT_FOUND, f"{LABEL} does not know task {task_id} (service {spec.name})")
            return TaskResult(task_id, spec.name, self.name, "failed", error=error)
        response, finished, prompt = unwrap(spec, record)
        items = result_items(spec, response)
        state, videos, error = read_state(spec, record, response, items, finished)

        def result(state: str, media: tuple[Video, ...] = (), problem: TaskError | None = None) -> TaskResult:
            progress, usage = read_progress(response, items), read_usage(response, items)
            return TaskResult(task_id, spec.name, self.name, state, progress, media, problem, usage, prompt)  # type: ignore[arg-type]

        if state == "failed":
            return result("failed", videos, error or TaskError("failed", f"{spec.name} reported the task as failed"))
        if state == "succeeded" and not videos:  # a success word with its error beside it keeps the error
            return result("failed", problem=error or TaskError(NO_VIDEO, "the task finished without a video URL"))
        return result(state, videos if state == "succeeded" else ())


ACEDATA = AceData()


def http_error(outcome: HttpResponse, code: Any, message: Any, enveloped: bool, body: Any) -> ApiError:
    status = outcome.status
    reason = {429: "rate limited", 502: "bad gateway", 503: "unavailable", 504: "gateway timeout"}
    return ApiError(
        LABEL,
        str(message or reason.get(status, "request failed")),
        status=status,
        code=str(code) if code else None,
        retryable=status in RETRYABLE_STATUSES,
        nothing_created=status == 429 or (status >= 500 and enveloped) or status in (400, 401, 403, 404, 413),
        retry_after=parse_retry_after(outcome.headers),
        trace_id=body.get("trace_id") if isinstance(body, dict) else None,
    )


def record_id(record: dict[str, Any]) -> str | None:
    task = record.get("task")
    for candidate in (record.get("id"), record.get("task_id"), task.get("id") if isinstance(task, dict) else None):
        if isinstance(candidate, str):
            return candidate
    return None


# ------------------------------------------------------------------------------------------------
# Reading a record: where the row says first, then wherever any service puts it
# ------------------------------------------------------------------------------------------------


def unwrap(spec: ServiceSpec, record: dict[str, Any]) -> tuple[Any, bool, str | None]:
    """(the response, whether the record says it finished, the prompt its request echoes)."""
    if isinstance(record.get("task"), dict):  # MiniMax's envelope (spec.shape TASK), wherever it shows up
        return record["task"], False, None
    if is_envelope(record):
        return record.get("response"), record.get("finished_at") is not None, request_prompt(record.get("request"))
    return record, False, None  # a flat poll: the record is the response body itself


def is_envelope(record: dict[str, Any]) -> bool:
    """A task record (``{id, request?, response?, finished_at?, ...}``) rather than a flat poll body.

    A ``response`` key alone is enough: a record trimmed of ``request``/``_id``/``api_id``/
    ``created_at`` still nests the result there, and reading it as flat loses the video.
    """
    if "response" in record and (record["response"] is None or isinstance(record["response"], dict)):
        return True
    return any(key in record for key in ENVELOPE_KEYS) or set(record) <= {"id", "status"}


def result_items(spec: ServiceSpec, response: Any) -> list[dict[str, Any]]:
    """The objects that may carry a video: where the row's shape puts them, else ``data[]`` items, a
    ``data{}`` object, or the body itself."""
    if not isinstance(response, dict):
        return []
    data = response.get("data")
    if spec.shape is Shape.DATA_LIST and isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if spec.shape is Shape.DATA_OBJECT and isinstance(data, dict):
        return [data]
    if spec.shape in (Shape.FLAT, Shape.TASK) and "data" not in response:
        return [response]
    if isinstance(data, list):  # the fallback: the shape the answer really has
        return [item for item in data if isinstance(item, dict)]
    return [data] if isinstance(data, dict) else [response]


def read_state(
    spec: ServiceSpec, record: dict[str, Any], response: Any, items: list[dict[str, Any]], finished: bool
) -> tuple[str, tuple[Video, ...], TaskError | None]:
    """(state, videos, error): the declared state word first, every word any service uses after it.

    A task record's own ``status`` (Maestro, Digital Human) and ``state`` (the MCP servers' and the n8n
    nodes' readers take it: ``{"id", "state": "failed", "response": {...}}``) count too.
    """
    words = declared_words(spec, response, items) or state_words(response, depth=6)
    for key in ("status", "state") if record is not response else ("status",):
        if isinstance(record.get(key), str) and record[key].strip():
            words.append(record[key].strip().lower())
    videos, error = tuple(read_videos(items)), read_error(response)
    own = spec.words
    if any(word in FAILURE_WORDS or word == own.failure for word in words):
        return "failed", videos, error
    if any(word in SUCCESS_WORDS or word == own.success for word in words):
        return "succeeded", videos, None if videos else error
    if words:
        return ("pending" if all(word in QUEUED_WORDS for word in words) else "running"), (), None
    return wordless_state(response, videos, error, finished)


def wordless_state(
    response: Any, videos: tuple[Video, ...], error: TaskError | None, finished: bool
) -> tuple[str, tuple[Video, ...], TaskError | None]:
    """No state word at all (API_CONTRACT.md §1.4.3 step 5): Flux, Midjourney and Kickart never send one.

    ``success: false`` alone may be a hiccup mid-run (the SDK keeps polling it); beside a video or a
    structured error the task has ended (the SDK's test_success_false_with_an_artifact_is_a_failure), and
    its video is not handed over. A structured error without any ``success`` flag is final too (the
    HappyHorse n8n node reads ``{"id", "error": {"code", "message"}}`` as a failed task).
    """
    if not isinstance(response, dict):
        return "pending", (), None
    success = response.get("success")
    structured = isinstance(response.get("error"), dict) and bool(response["error"].get("code"))
    if (success is False and (structured or videos)) or (success is None and structured):
        return "failed", (), error or TaskError("failed", "the task reported success: false")  # final (hailuo)
    if finished or response.get("finished_at") is not None:
        if success is False:
            return "failed", (), error or TaskError("failed", "the task failed")
        return "succeeded", videos, None  # without a video: failed (no_video) by the caller
    return ("succeeded", videos, None) if videos else ("running", (), None)


def declared_words(spec: ServiceSpec, response: Any, items: list[dict[str, Any]]) -> list[str]:
    """The words under the row's own state key, in the items where its shape puts them."""
    key = spec.words.state_key
    if key is None:
        return []
    nodes = [*items, response] if isinstance(response, dict) else items
    return [node[key].strip().lower() for node in nodes if isinstance(node.get(key), str) and node[key].strip()]


def state_words(node: Any, depth: int) -> list[str]:
    """Every non-empty string under a ``state``/``status`` key, searched ``depth`` levels deep.

    An empty word (``"state": ""``) says nothing, so it must not hide the other signals.
    """
    if depth < 0:
        return []
    words: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("state", "status") and isinstance(value, str):
                if value.strip():
                    words.append(value.strip().lower())
            elif isinstance(value, dict | list):
                words.extend(state_words(value, depth - 1))
    elif isinstance(node, list):
        for value in node:
            words.extend(state_words(value, depth - 1))
    return words


def _http(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def read_videos(items: list[dict[str, Any]]) -> Iterable[Video]:
    for item in items:
        content = item.get("content") if isinstance(item.get("content"), dict) else {}
        url = _http(item.get("video_url")) or _http(content.get("video_url")) or _http(content.get("url"))
        if not url:
            yield from video_list(item)
            yield from variants(item)
            continue
        video_id = item.get("video_id") or item.get("id")
        yield Video(
            url=url,
            thumbnail_url=_http(item.get("thumbnail_url")),
            width=_int(item.get("video_width") or item.get("width")),
            height=_int(item.get("video_height") or item.get("height")),
            video_id=str(video_id) if video_id is not None else None,
        )


def video_list(item: dict[str, Any]) -> Iterable[Video]:
    """Midjourney's ``video_urls``: a flat list of URL strings, four videos of one ``video_id``.

    Its ``image_url`` is the cover (a thumbnail, never a video) and ``image_width``/``image_height``
    are the cover's size, so the videos get the cover as thumbnail and no size. Extending one of them
    takes the shared ``video_id`` and its position in the list (``video_index``).
    """
    urls = item.get("video_urls")
    if not isinstance(urls, list):
        return
    cover = _http(item.get("image_url"))
    video_id = item.get("video_id")
    for url in filter(None, map(_http, urls)):
        yield Video(url=url, thumbnail_url=cover, video_id=str(video_id) if video_id is not None else None)


def variants(item: dict[str, Any]) -> Iterable[Video]:
    """Maestro's ``data.variants``: one finished video per language, at ``output_url`` (Docs
    maestro_tasks.mdx, openapi/maestro.json), its ``cover_url`` the thumbnail (the MCP's tool docs)."""
    found = item.get("variants")
    for variant in found if isinstance(found, list) else ():
        if isinstance(variant, dict) and (url := _http(variant.get("output_url"))):
            yield Video(url=url, thumbnail_url=_http(variant.get("cover_url")))


def read_error(response: Any) -> TaskError | None:
    if not isinstance(response, dict):
        return None
    error = response.get("error")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        return TaskError(str(error.get("code") or "error"), str(error.get("message") or error.get("code")))
    if isinstance(error, str) and error:
        return TaskError("error", error)
    return None


def read_usage(response: Any, items: list[dict[str, Any]]) -> dict[str, float] | None:
    """What the task cost as the API reports it: ``usage`` of the task (MiniMax) or of its items (Seedance),
    an object of numbers, or one plain number (Kickart's ``data.usage``: ``{"usage": 0.21}``)."""
    if not isinstance(response, dict):
        return None
    totals: dict[str, float] = {}
    nodes = items if any(item is response for item in items) else [response, *items]
    for node in nodes:
        usage = node.get("usage")
        plain = isinstance(usage, int | float) and not isinstance(usage, bool)
        for key, number in ({"usage": usage} if plain else clean_usage(usage) or {}).items():
            totals[key] = totals.get(key, 0) + number
    return totals or None


def read_progress(response: Any, items: list[dict[str, Any]]) -> float | None:
    for item in [response, *items] if isinstance(response, dict) else []:
        for key in ("progress", "percent"):
            value = item.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return round(value / 100 if value > 1 else float(value), 4)
    return None
