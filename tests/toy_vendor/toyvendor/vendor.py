"""A third, toy vendor, defined only here: its one service row and its protocol. With ``emulated.py`` and
the entry point of its own distribution (``../pyproject.toml``), it runs through the generic operators, the
sensor, the trigger, the callback receiver and the download (``tests/test_toy_vendor.py``, ``make e2e``):
the proof that a vendor is two files and an entry point, installed like a provider.

Its API differs from both real vendors on purpose: an ``X-Toy-Key`` header, a path parameter for the
task id, ``{"clip": {...}}`` records with their own state words, and ``{"problem": {...}}`` errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_vidgen.core.errors import ApiError
from airflow_provider_vidgen.core.results import NOT_FOUND, TaskError, TaskResult, Video
from airflow_provider_vidgen.core.schema import FieldSpec, RecordWords, ServiceSpec, Shape
from airflow_provider_vidgen.core.transport import RETRYABLE_STATUSES, ApiRequest, Outcome, json_body, parse_retry_after
from airflow_provider_vidgen.core.vendor import Vendor

CLIP = ServiceSpec(
    vendor="toy",
    name="clip",
    submit_path="/toy/v1/clips",
    poll_path="/toy/v1/clips",
    fields=(
        FieldSpec("prompt", required=True),
        FieldSpec("seconds", "int", minimum=1, maximum=10),
        FieldSpec("notify_url", "url"),
    ),
    shape=Shape.FLAT,
    words=RecordWords(success="ready", running="rendering", failure="broken", state_key="status"),
)
STATES = {"queued": "pending", "rendering": "running", "ready": "succeeded", "broken": "failed"}


class Toy(Vendor):
    name = "toy"
    label = "Toy Video"
    conn_type = "toyvideo"
    default_host = "https://toy.example"
    services = {CLIP.name: CLIP}
    emulated_by = "toyvendor.emulated:ToyFace"
    callback_field = "notify_url"

    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]:
        return {"x-toy-key": token}

    def submit_request(self, spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest:
        return ApiRequest("POST", spec.submit_path, "submit", json=dict(body))

    def retrieve_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest:
        return ApiRequest("GET", f"{spec.poll_path}/{task_id}", "retrieve")

    def batch_request(self, spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest:
        return ApiRequest("POST", f"{spec.poll_path}:batchGet", "retrieve_batch", json={"ids": list(task_ids)})

    def probe_request(self) -> ApiRequest:
        return ApiRequest("POST", f"{CLIP.poll_path}:batchGet", "probe", json={"ids": []})

    def decode(self, outcome: Outcome, request: ApiRequest, *, allow_not_found: bool = False) -> Any:
        body = json_body(self.label, outcome, request)
        if outcome.status < 400 and isinstance(body, dict):
            return body
        if allow_not_found and outcome.status == 404:
            return {}
        problem = body.get("problem") if isinstance(body, dict) else None
        kind = problem.get("kind") if isinstance(problem, dict) else None
        raise ApiError(
            self.label,
            str(problem.get("detail") if isinstance(problem, dict) else "not a toy answer"),
            status=outcome.status,
            code=kind,
            retryable=outcome.status in RETRYABLE_STATUSES or body is None,
            nothing_created=outcome.status == 429 or (400 <= outcome.status < 500) or (outcome.status >= 500 and kind),
            retry_after=parse_retry_after(outcome.headers),
        )

    def parse_submit(self, body: Any) -> str:
        clip = body.get("clip") if isinstance(body, dict) else None
        if not isinstance(clip, dict) or not isinstance(clip.get("id"), str):
            raise ApiError(self.label, f"no clip id in {str(body)[:200]}", code="no_task_id")
        return clip["id"]

    def parse_batch(self, spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]:
        clips = {clip["id"]: {"clip": clip} for clip in body.get("clips") or [] if isinstance(clip, dict)}
        return {task_id: self.interpret_record(spec, task_id, clips.get(task_id, {})) for task_id in task_ids}

    def read_callback(self, spec: ServiceSpec, body: Any) -> tuple[str | None, bool]:
        """A callback is the clip's record, as a poll reads it."""
        clip = body.get("clip") if isinstance(body, dict) else None
        if not isinstance(clip, dict) or not isinstance(clip.get("id"), str):
            return None, False
        return clip["id"], self.interpret_record(spec, clip["id"], body).terminal

    def interpret_record(self, spec: ServiceSpec, task_id: str, record: Any) -> TaskResult:
        clip = record.get("clip") if isinstance(record, dict) else None
        if not isinstance(clip, dict):
            error = TaskError(NOT_FOUND, f"{self.label} does not know clip {task_id}")
            return TaskResult(task_id, spec.name, self.name, "failed", error=error)
        state = STATES.get(str(clip.get(spec.words.state_key or "status")), "running")
        videos = (Video(url=clip["file"]),) if state == "succeeded" and clip.get("file") else ()
        error = TaskError("broken", str(clip.get("reason") or "the clip broke")) if state == "failed" else None
        return TaskResult(task_id, spec.name, self.name, state, videos=videos, error=error)  # type: ignore[arg-type]


TOY = Toy()
