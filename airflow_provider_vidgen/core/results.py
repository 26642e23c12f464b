"""The normalized task result: one shape for every vendor and service.

Its ``to_dict()`` form is what operators return as XCom and what triggers put into events,
so it holds identifiers, states and public media URLs only, never anything secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from airflow_provider_vidgen.core import typed

State = Literal["pending", "running", "succeeded", "failed"]
STATES: tuple[State, ...] = ("pending", "running", "succeeded", "failed")
TERMINAL_STATES = frozenset({"succeeded", "failed"})

# Error codes this provider sets itself (the vendors' own codes pass through unchanged).
NOT_FOUND = "not_found"
MODERATION_REJECTED = "moderation_rejected"
NO_VIDEO = "no_video"


@dataclass(frozen=True)
class Video:
    url: str
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    video_id: str | None = None
    watermarked_url: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Video:
        """A video of a result, its fields checked for their type (ValueError naming the field)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"videos: expected mappings, got {type(data).__name__}")
        return cls(
            url=typed.required_text(data, "url"),
            thumbnail_url=typed.text(data, "thumbnail_url"),
            width=typed.integer(data, "width", minimum=0),
            height=typed.integer(data, "height", minimum=0),
            video_id=typed.text(data, "video_id"),
            watermarked_url=typed.text(data, "watermarked_url"),
        )


@dataclass(frozen=True)
class TaskError:
    code: str
    message: str


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    service: str
    vendor: str
    state: State
    progress: float | None = None
    videos: tuple[Video, ...] = field(default_factory=tuple)
    error: TaskError | None = None
    # What the vendor reported as spent (e.g. ``total_tokens``, ``total_seconds``), numbers only;
    # None when the API reported nothing. Left out of ``to_dict()`` then.
    usage: Mapping[str, float] | None = None
    # The prompt, where the vendor's task record echoes the request (Ace Data); left out of
    # ``to_dict()`` when None. Operators add the one they sent.
    prompt: str | None = None
    # The vendor's record says nothing yet (HiDream's empty sub_task_results): pending just after a
    # submission, or an id the vendor does not know. The trigger ends the doubt after a grace time.
    unknown: bool = False

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def video_urls(self) -> list[str]:
        return [video.url for video in self.videos]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["videos"] = [{k: v for k, v in video.items() if v is not None} for video in data["videos"]]
        if self.usage is None:
            del data["usage"]
        else:
            data["usage"] = dict(self.usage)
        if self.prompt is None:
            del data["prompt"]
        if not self.unknown:
            del data["unknown"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskResult:
        """The result ``to_dict()`` wrote, every field checked for its type (XCom is written by DAG authors and
        XCom editors too): ValueError naming the field otherwise."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a task result must be a mapping, got {type(data).__name__}")
        state = typed.choice(data, "state", STATES)
        videos = data.get("videos") or ()
        if not isinstance(videos, list | tuple):
            raise ValueError(f"videos: expected a list, got {type(videos).__name__}")
        error = typed.mapping(data, "error")
        return cls(
            task_id=typed.required_text(data, "task_id"),
            service=typed.required_text(data, "service"),
            vendor=typed.required_text(data, "vendor"),
            state=state,  # type: ignore[arg-type]  # checked against STATES above
            progress=typed.number(data, "progress"),
            videos=tuple(Video.from_dict(video) for video in videos),
            error=TaskError(typed.required_text(error, "code"), typed.text(error, "message") or "") if error else None,
            usage=clean_usage(data.get("usage")),
            prompt=data["prompt"] if isinstance(data.get("prompt"), str) else None,
            unknown=data.get("unknown") is True,
        )

    def describe(self) -> str:
        """One line for logs and exception text: names the vendor task id so nothing is lost."""
        text = f"{self.vendor} {self.service} task {self.task_id}: {self.state}"
        if self.error:
            text += f" ({self.error.code}: {self.error.message})"
        elif self.videos:
            text += " -> " + ", ".join(self.video_urls)
        elif self.progress is not None:
            text += f" ({self.progress:.0%})"
        return text


def request_prompt(body: Any) -> str | None:
    """The text prompt of a request body: ``prompt``, or the first text item of ``content`` (Seedance)."""
    if not isinstance(body, Mapping):
        return None
    prompt = body.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    content = body.get("content")
    for item in content if isinstance(content, list | tuple) else ():
        if isinstance(item, Mapping) and isinstance(item.get("text"), str) and item["text"].strip():
            return item["text"]
    return None


def clean_usage(value: Any, depth: int = 0) -> dict[str, float] | None:
    """The finite numeric fields of a vendor's ``usage`` object (nested objects, three deep at most, flattened
    as ``a.b``), or None."""
    if not isinstance(value, Mapping):
        return None
    found: dict[str, float] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            continue
        if isinstance(item, int | float) and typed.finite(item):
            found[str(key)] = item
        elif isinstance(item, Mapping) and depth < 3:
            for inner, number in (clean_usage(item, depth + 1) or {}).items():
                found[f"{key}.{inner}"] = number
    return found or None


class HasUsage(Protocol):
    @property
    def usage(self) -> Mapping[str, float] | None: ...


def total_usage(results: Iterable[HasUsage]) -> dict[str, float]:
    """Every usage field summed over ``results`` (the spend of a batch or a run, as the vendors reported it)."""
    totals: dict[str, float] = {}
    for result in results:
        for key, number in (result.usage or {}).items():
            totals[key] = totals.get(key, 0) + number
    return {key: number for key, number in totals.items() if typed.finite(number)}  # JSON has no infinity
