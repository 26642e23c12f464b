"""Emulated tasks: their lifecycle, computed lazily from timestamps, and the outcomes the prompt markers
choose. Vendor-neutral: what a task looks like on the wire is each vendor's face (``emulated.py``)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vidgen.core.schema import ServiceSpec

QUEUED, RUNNING, TERMINAL = "queued", "running", "terminal"

# Outcomes chosen by markers in the prompt (``prompt`` or ``content[].text``).
SUCCESS, FAIL, REJECT, NOURL = "success", "fail", "reject", "nourl"
CANCELLED = "cancelled"  # an outcome only a cancel gives (MiniMax's delete of a queued task)
MARKERS = ("[fail]", "[reject]", "[slow]", "[nourl]")
SLOW_FACTOR = 3.0

# What sample.mp4 really is (generated with ffmpeg testsrc: 1 s, 160x90, H.264, 12 fps).
SAMPLE_WIDTH, SAMPLE_HEIGHT, SAMPLE_DURATION = 160, 90, 1.0

FAIL_ERROR = {"code": "api_error", "message": "generation failed upstream (emulated [fail])"}
REJECT_ERROR = {
    "code": "content_policy_violation",
    "message": "the request was rejected by content moderation (emulated [reject])",
}


def base36(length: int) -> str:
    number = int.from_bytes(os.urandom(20), "big")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(length):
        number, rest = divmod(number, 36)
        out.append(digits[rest])
    return "".join(out)


def prompt_text(body: Mapping[str, Any]) -> str:
    """The text the markers are looked for in: ``prompt`` and every ``content[].text``."""
    texts = []
    if isinstance(body.get("prompt"), str):
        texts.append(body["prompt"])
    content = body.get("content")
    if isinstance(content, list):
        texts.extend(item["text"] for item in content if isinstance(item, dict) and isinstance(item.get("text"), str))
    return " ".join(texts).lower()


def choose_outcome(body: Mapping[str, Any]) -> tuple[str, float]:
    """(outcome, time factor) from the markers; precedence reject > fail > nourl > success."""
    text = prompt_text(body)
    factor = SLOW_FACTOR if "[slow]" in text else 1.0
    for marker, outcome in (("[reject]", REJECT), ("[fail]", FAIL), ("[nourl]", NOURL)):
        if marker in text:
            return outcome, factor
    return SUCCESS, factor


@dataclass(eq=False)
class Task:
    id: str
    spec: ServiceSpec
    request: dict[str, Any]  # the body as submitted (stored like the platform's ``request``)
    outcome: str
    base_url: str  # media URLs are built from this
    t0: float  # the emulator clock at submission; the lifecycle is computed from it
    created_at: float  # wall clock, what the records show
    queued: float
    running: float
    token: str
    callback_url: str | None = None
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    item_id: str = ""
    sub_task_id: str = ""
    _final: Any = field(default=None, repr=False)  # terminal answers never change: cached

    @property
    def vendor(self) -> str:
        return self.spec.vendor

    @property
    def finish_mono(self) -> float:
        return self.t0 + self.queued + self.running

    @property
    def finished_at(self) -> float:
        return round(self.created_at + self.queued + self.running, 3)

    @property
    def started_at(self) -> float:
        return round(self.created_at + min(0.061, self.queued), 3)

    def phase(self, now: float) -> tuple[str, float]:
        """(phase, fraction of that phase elapsed) at monotonic time ``now``."""
        elapsed = now - self.t0
        if elapsed < self.queued:
            return QUEUED, elapsed / self.queued
        elapsed -= self.queued
        if elapsed < self.running:
            return RUNNING, elapsed / self.running
        return TERMINAL, 1.0

    def terminal(self, now: float) -> bool:
        return now >= self.finish_mono

    @property
    def has_video(self) -> bool:
        return self.outcome == SUCCESS

    def media_url(self, suffix: str) -> str:
        return f"{self.base_url}/files/{self.id}{suffix}"


def new_task(
    spec: ServiceSpec,
    body: Mapping[str, Any],
    *,
    token: str,
    base_url: str,
    queued: float,
    running: float,
    callback_url: str | None,
    now: float,
    item_id: Callable[[Task], str],
) -> Task:
    outcome, factor = choose_outcome(body)
    task = Task(
        id=str(uuid.uuid4()),
        spec=spec,
        request=dict(body),
        outcome=outcome,
        base_url=base_url.rstrip("/"),
        t0=now,
        created_at=round(time.time(), 3),
        queued=queued * factor,
        running=running * factor,
        token=token,
        callback_url=callback_url,
    )
    task.item_id = item_id(task)
    task.sub_task_id = str(uuid.uuid4())
    return task
