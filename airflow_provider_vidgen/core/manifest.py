"""The download manifest, pure: what generation tasks returned, the plan of files to fetch, typed manifest
entries and failures, and the report text. No I/O (the download operator and its fetch hook do that)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from airflow_provider_vidgen.core import typed
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskError, TaskResult

VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".m4v", ".mkv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
INVALID_VIDEO = "invalid_video"
NO_RESULT = "no_result"
NEVER_RAN = "upstream_failed"  # the state of a task instance that never ran: an upstream task failed
DONE_STATES = ("success", "skipped", "removed")  # task instance states that leave no generation missing
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

FileKind = Literal["video", "thumbnail", "poster"]
FILE_KINDS: tuple[FileKind, ...] = ("video", "thumbnail", "poster")


# ------------------------------------------------------------------------------------------------
# What generation tasks returned
# ------------------------------------------------------------------------------------------------


def collect_results(value: Any) -> list[TaskResult]:
    """Normalized results from what upstream tasks returned.

    Accepts one result dict (a generation operator), a list of them (the sensor), a
    ``LazyXComSequence`` of either (a mapped operator or sensor), lists nesting any of those
    (``results=[generate.output, wait.output]``), and the Python-repr string a Jinja
    ``xcom_pull`` renders to. ``None`` items (an upstream that returned nothing) are ignored.
    """
    return collect_generations(value)[0]


def collect_generations(value: Any) -> tuple[list[TaskResult], dict[str, str]]:
    """:func:`collect_results`, plus the prompt of every result that carries one (by vendor task id)."""
    if isinstance(value, str):
        value = _parse_results_text(value)
    results: list[TaskResult] = []
    prompts: dict[str, str] = {}
    _collect(value, results, prompts, depth=0)
    for result in results:  # the vendor's record may echo the prompt where upstream did not keep it
        if result.prompt and result.task_id not in prompts:
            prompts[result.task_id] = result.prompt
    return results, prompts


def _parse_results_text(value: str) -> Any:
    text = value.strip()
    if not text.startswith(("[", "{")):
        raise InvalidInputError("results", f"expected generation results (dicts), got the string {value!r}")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InvalidInputError("results", f"could not parse {value[:200]!r} as generation results") from None


def _collect(value: Any, into: list[TaskResult], prompts: dict[str, str], depth: int) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        result = parse_result(value)
        into.append(result)
        if isinstance(value.get("prompt"), str) and value["prompt"].strip():
            prompts.setdefault(result.task_id, value["prompt"])
        return
    if depth > 4 or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInputError(
            "results",
            f"expected generation results (dicts, lists of dicts), got {type(value).__name__}: {value!r:.200}",
        )
    if isinstance(value, Sequence) and not isinstance(value, list | tuple):
        # A mapped upstream's LazyXComSequence: one slice request for every map index. Iterating it
        # instead asks for one item past the end, which Airflow logs as "[error] XCom not found".
        value = value[:]
    for item in value:
        _collect(item, into, prompts, depth + 1)


def parse_result(data: Mapping[str, Any]) -> TaskResult:
    missing = [key for key in ("task_id", "vendor", "service", "state") if not data.get(key)]
    if missing:
        raise InvalidInputError(
            "results", f"not a generation result (missing {', '.join(missing)}): {dict(data)!r:.300}"
        )
    videos = data.get("videos") or []
    if not isinstance(videos, list | tuple) or not all(
        isinstance(video, Mapping) and isinstance(video.get("url"), str) for video in videos
    ):
        raise InvalidInputError("results", f"task {data['task_id']}: 'videos' must be a list of {{url: ...}} dicts")
    try:
        return TaskResult.from_dict(dict(data))
    except (TypeError, KeyError, ValueError) as err:
        raise InvalidInputError("results", f"task {data['task_id']}: not a generation result ({err})") from None


# ------------------------------------------------------------------------------------------------
# The plan
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedFile:
    """One file to fetch: where from, under which name, and which generation it belongs to."""

    source_url: str
    name: str
    kind: FileKind
    result: TaskResult
    index: int


def safe_name(text: str) -> str:
    """A file-name-safe form of a vendor task id (keeps letters, digits, '_' and '-')."""
    cleaned = _UNSAFE.sub("-", text).strip(".-")
    return cleaned[:120] or "task"


def extension_for(url: str, allowed: Sequence[str], default: str) -> str:
    suffix = urlsplit(url).path.rpartition("/")[2].rpartition(".")
    ext = f".{suffix[2].lower()}" if suffix[1] else ""
    return ext if ext in allowed else default


def plan_downloads(
    results: Sequence[TaskResult], *, include_thumbnails: bool
) -> tuple[list[PlannedFile], list[TaskResult]]:
    """The files to fetch, and the results that have nothing to fetch (failed, unfinished, no video).

    Names are ``<vendor>_<task id>_<index>.<ext>`` (thumbnails ``..._<index>_thumb.<ext>``), so a
    rerun writes to the same names and finds complete files already there.
    """
    planned: dict[str, PlannedFile] = {}
    missing: list[TaskResult] = []
    for result in results:
        if result.state != "succeeded" or not result.videos:
            if all(other.task_id != result.task_id for other in missing):
                missing.append(result)
            continue
        stem = f"{safe_name(result.vendor)}_{safe_name(result.task_id)}"
        for index, video in enumerate(result.videos):
            name = f"{stem}_{index}{extension_for(video.url, VIDEO_EXTENSIONS, '.mp4')}"
            planned.setdefault(name, PlannedFile(video.url, name, "video", result, index))
            if include_thumbnails and video.thumbnail_url:
                thumb = f"{stem}_{index}_thumb{extension_for(video.thumbnail_url, IMAGE_EXTENSIONS, '.jpg')}"
                planned.setdefault(thumb, PlannedFile(video.thumbnail_url, thumb, "thumbnail", result, index))
    return list(planned.values()), missing


# ------------------------------------------------------------------------------------------------
# Entries
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    """A file at the destination, and the generation it came from."""

    name: str
    source_url: str | None  # None for a poster (made here, not fetched)
    destination_uri: str
    bytes: int
    sha256: str
    vendor: str
    service: str
    task_id: str
    kind: FileKind
    index: int
    existing: bool  # already complete at the destination: not downloaded again
    prompt: str | None
    video: Mapping[str, Any] | None = None  # what the probe measured (videos only)

    @classmethod
    def of(cls, item: PlannedFile, uri: str, size: int, sha256: str, existing: bool, prompt: str | None) -> FileEntry:
        result = item.result
        return cls(
            item.name, item.source_url, uri, size, sha256, result.vendor, result.service, result.task_id,
            item.kind, item.index, existing, prompt,
        )  # fmt: skip

    def poster(self, name: str, uri: str, size: int, sha256: str, existing: bool) -> FileEntry:
        """The poster frame of this video."""
        return FileEntry(
            name, None, uri, size, sha256, self.vendor, self.service, self.task_id, "poster", self.index,
            existing, self.prompt,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in FILE_KEYS}
        if self.video is not None:
            data["video"] = dict(self.video)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> FileEntry:
        """What ``to_dict`` wrote, every field checked for its type (XCom is written by DAG authors and XCom
        editors too): ValueError naming the field otherwise."""
        from airflow_provider_vidgen.core.media import VideoInfo

        if not isinstance(data, Mapping):
            raise ValueError(f"files: expected mappings, got {type(data).__name__}")
        kind = typed.choice(data, "kind", FILE_KINDS)
        sha256 = typed.required_text(data, "sha256")
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError(f"sha256: expected 64 lower-case hex digits, got {sha256!r:.80}")
        video = typed.mapping(data, "video")
        return cls(
            name=typed.required_text(data, "name"),
            source_url=typed.text(data, "source_url"),
            destination_uri=typed.required_text(data, "destination_uri"),
            bytes=typed.integer(data, "bytes", minimum=0) or 0,
            sha256=sha256,
            vendor=typed.text(data, "vendor") or "",
            service=typed.text(data, "service") or "",
            task_id=typed.required_text(data, "task_id"),
            kind=kind,  # type: ignore[arg-type]  # checked against FILE_KINDS above
            index=typed.integer(data, "index", minimum=0) or 0,
            existing=data.get("existing") is True,
            prompt=typed.text(data, "prompt"),
            video=VideoInfo.from_dict(video).to_dict() if video is not None else None,
        )


FILE_KEYS = (
    "name", "source_url", "destination_uri", "bytes", "sha256", "vendor", "service", "task_id", "kind",
    "index", "existing", "prompt",
)  # fmt: skip


@dataclass(frozen=True)
class FailureEntry:
    """A generation that produced no usable video, with its vendor task id wherever one is known."""

    task_id: str | None
    vendor: str | None
    service: str | None
    state: str
    error: TaskError
    prompt: str | None = None
    upstream: str | None = None  # the Airflow task it came from

    @classmethod
    def of(
        cls, result: TaskResult, prompt: str | None = None, upstream: str | None = None, state: str | None = None
    ) -> FailureEntry:
        error = result.error or TaskError("no_video", f"the generation ended {result.state} without a video")
        return cls(result.task_id, result.vendor, result.service, state or result.state, error, prompt, upstream)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "vendor": self.vendor,
            "service": self.service,
            "state": self.state,
            "error": {"code": self.error.code, "message": self.error.message},
            "prompt": self.prompt,
            "upstream": self.upstream,
        }

    @classmethod
    def from_dict(cls, data: Any) -> FailureEntry:
        """What ``to_dict`` wrote, every field checked for its type (ValueError naming the field otherwise)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"failures: expected mappings, got {type(data).__name__}")
        error = typed.mapping(data, "error") or {}
        return cls(
            task_id=typed.text(data, "task_id"),
            vendor=typed.text(data, "vendor"),
            service=typed.text(data, "service"),
            state=typed.text(data, "state") or "unknown",
            error=TaskError(typed.text(error, "code") or NO_RESULT, typed.text(error, "message") or ""),
            prompt=typed.text(data, "prompt"),
            upstream=typed.text(data, "upstream"),
        )

    def describe(self) -> str:
        """``<id> (<code>: <message>)``, for the summary line."""
        return f"{self.task_id or self.upstream or '?'} ({self.error.code}: {self.error.message})"

    def text(self) -> str:
        """A failure for a log line: ``acedata hailuo task <id>: failed (<code>: <message>)``."""
        who = " ".join(part for part in (self.vendor, self.service) if part)
        subject = f"{who} task {self.task_id}" if self.task_id else f"Airflow task {self.upstream}"
        return f"{subject.strip()}: {self.state} ({self.error.code}: {self.error.message})"


def invalid_video(item: PlannedFile, reason: str, prompt: str | None) -> FailureEntry:
    result = item.result
    message = (
        f"{item.source_url} is not a complete video: {reason}. Nothing was kept as {item.name}. "
        "The link may have expired or the vendor served an error page: get fresh URLs with "
        f"VideoTaskSensor(task_ids=[{result.task_id!r}], service={result.service!r}) and download again"
    )
    return FailureEntry(
        result.task_id, result.vendor, result.service, INVALID_VIDEO, TaskError(INVALID_VIDEO, message), prompt
    )


def unexplained_failures(
    upstream: str,
    states: Mapping[int, str],
    explained: set[int],
    known_ids: set[str],
    submitted_ids: Sequence[str],
) -> list[FailureEntry]:
    """One entry per task instance of ``upstream`` that did not succeed and left no ``failure`` XCom (the map
    indexes in ``explained`` did): each was asked for at least one generation, which has no video.

    An instance that never ran (``upstream_failed``) is named by its map index. A vendor task id that was
    submitted but never came back is named instead of one failed instance (it is billed and may still
    finish); the other failed instances are named by map index, exactly when no such id is left over.
    """

    def name(index: int) -> str:
        return f"{upstream}[{index}]" if index >= 0 else upstream

    bad = sorted(index for index, state in states.items() if state not in DONE_STATES and index not in explained)
    failed = [index for index in bad if states[index] != NEVER_RAN]
    entries = [missing(name(index), NEVER_RAN, "never ran (an upstream task failed)") for index in bad
               if states[index] == NEVER_RAN]  # fmt: skip
    lost = [task_id for task_id in submitted_ids if task_id not in known_ids][: len(failed)]
    where = ", ".join(map(name, failed))
    for task_id in lost:
        message = (
            f"Airflow task {where if len(failed) == 1 else f'one of {where}'} submitted it but ended without its "
            "result (timeout or error while waiting); it may still finish and is billed: collect it with "
            f"VideoTaskSensor(task_ids=[{task_id!r}], service=...)"
        )
        entries.append(FailureEntry(task_id, None, None, "unknown", TaskError(NO_RESULT, message), None, upstream))
    for index in failed[len(lost) :]:
        subject, task = (f"one of {where}", upstream) if lost else (name(index), name(index))
        entries.append(missing(subject, "failed", "failed without a generation result (before or without "
                               "submitting one); its log says why", task))  # fmt: skip
    return entries


def missing(subject: str, state: str, what: str, task: str | None = None) -> FailureEntry:
    """The failure of a generation known only by its Airflow task instance (``generate[2]``)."""
    error = TaskError(NO_RESULT, f"Airflow task {subject} {what}")
    return FailureEntry(None, None, None, state, error, None, task or subject)


def map_states(task_id: str, states: Mapping[str, Any]) -> dict[int, str]:
    """``get_task_states`` keys (``task`` or ``task_<map index>``) to ``{map_index: state}``."""
    out: dict[int, str] = {}
    for key, state in states.items():
        if key == task_id:
            out[-1] = str(state)
        elif key.startswith(f"{task_id}_") and key[len(task_id) + 1 :].isdigit():
            out[int(key[len(task_id) + 1 :])] = str(state)
    return out


# ------------------------------------------------------------------------------------------------
# The manifest and its report
# ------------------------------------------------------------------------------------------------


@dataclass
class Manifest:
    """What landed where, and every generation that has no video (the download operator's XCom)."""

    destination: str
    run_id: str | None
    generations: int
    files: list[FileEntry] = field(default_factory=list)
    failures: list[FailureEntry] = field(default_factory=list)
    manifest: str | None = None  # where manifest.json was written
    gallery: str | None = None  # where gallery.html was written

    @property
    def downloaded(self) -> int:
        """Generations with at least one video downloaded (and not found invalid)."""
        bad = {entry.task_id for entry in self.failures if entry.state == INVALID_VIDEO}
        return len({e.task_id for e in self.files if e.kind == "video" and e.task_id not in bad})

    @property
    def never_ran(self) -> int:
        """Generations whose task never ran (an upstream task failed)."""
        return sum(entry.state == NEVER_RAN for entry in self.failures)

    @property
    def bytes(self) -> int:
        return sum(entry.bytes for entry in self.files)

    def summary(self) -> str:
        """``2 of 3 generations downloaded; 1 failed: <id> (<code>: <message>)``."""
        return summary_line(self.generations, self.downloaded, self.failures)

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """The manifest a download task returned (``to_dict``), every entry checked for its type; ValueError
        naming the field otherwise. The one reader of the format: the Videos view and the gallery use it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a download manifest must be a mapping, got {type(data).__name__}")
        files, failures = data.get("files"), data.get("failures") or []
        if not isinstance(files, list) or not isinstance(failures, list):
            raise ValueError("files and failures: expected lists")
        return cls(
            destination=typed.required_text(data, "destination"),
            run_id=typed.text(data, "run_id"),
            generations=typed.integer(data, "generations", minimum=0) or 0,
            files=[FileEntry.from_dict(entry) for entry in files],
            failures=[FailureEntry.from_dict(entry) for entry in failures],
            manifest=typed.text(data, "manifest"),
            gallery=typed.text(data, "gallery"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "run_id": self.run_id,
            "generations": self.generations,
            "downloaded": self.downloaded,
            "failed": len(self.failures) - self.never_ran,
            "never_ran": self.never_ran,
            "bytes": self.bytes,
            "files": [entry.to_dict() for entry in self.files],
            "failures": [entry.to_dict() for entry in self.failures],
            "manifest": self.manifest,
            "gallery": self.gallery,
        }


def count_generations(results: Sequence[TaskResult], failures: Sequence[FailureEntry]) -> int:
    ids = {result.task_id for result in results} | {entry.task_id for entry in failures if entry.task_id}
    return len(ids) + sum(1 for entry in failures if not entry.task_id)


def summary_line(generations: int, downloaded: int, failures: Sequence[FailureEntry]) -> str:
    """``1 of 3 generations downloaded; 1 failed: <id> (<code>: <message>); 1 never ran: <task>[2] (...)``."""
    text = f"{downloaded} of {generations} generation{'s' if generations != 1 else ''} downloaded"
    if not failures:
        return text + "; none failed"
    failed = [entry for entry in failures if entry.state != NEVER_RAN]
    never = [entry for entry in failures if entry.state == NEVER_RAN]
    parts = [(f"{len(failed)} failed", failed), (f"{len(never)} never ran", never)]
    return text + "".join(f"; {head}: " + "; ".join(e.describe() for e in group) for head, group in parts if group)
