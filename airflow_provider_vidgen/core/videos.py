"""A DAG run's generations, pure: what the Videos view shows, built from the run's XComs.

The provider's generation tasks and sensors push ``video_url`` (and operators ``vendor_task_id``); their
``return_value`` (or ``failure``, for a task that failed) holds the results, single, mapped or batch. A
download task's ``return_value`` is its manifest. One generation appears once, however many tasks saw it
(an operator that did not wait and the sensor that did): the furthest state wins. Where a download
fetched a generation's video, the view plays that copy; the media route serves only files that a
download manifest of the same run lists, by their place in it, so no path from a request reaches storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.manifest import FileEntry, Manifest
from airflow_provider_vidgen.core.media import VideoInfo
from airflow_provider_vidgen.core.results import TERMINAL_STATES, TaskResult, total_usage
from airflow_provider_vidgen.core.typed import web_url

RESULT_KEYS = ("return_value", xcom.FAILURE)
VIEW_STATES = ("succeeded", "failed", "pending")  # the view's state filter: finished well, finished badly, not yet


@dataclass(frozen=True)
class XComRow:
    """One XCom of the run, its value already read back from object storage where it was stored there."""

    task_id: str
    map_index: int
    key: str
    value: Any


@dataclass(frozen=True)
class MediaRef:
    """A file a download task of this run fetched: which task instance's manifest, and its place in it."""

    task_id: str
    map_index: int
    position: int
    name: str
    bytes: int
    sha256: str
    destination_uri: str

    @property
    def route(self) -> str:
        """The media route's path under the run (no file name from a request is ever used)."""
        return f"media/{self.task_id}/{self.map_index}/{self.position}"


@dataclass
class Generation:
    """One vendor task, as the run knows it."""

    vendor_task_id: str
    vendor: str
    service: str
    state: str
    airflow_task_id: str
    map_index: int
    prompt: str | None = None
    error: Mapping[str, Any] | None = None
    usage: Mapping[str, float] | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    video: MediaRef | None = None  # the downloaded copy
    poster: MediaRef | None = None

    @property
    def view_state(self) -> str:
        return self.state if self.state in ("succeeded", "failed") else "pending"

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in GENERATION_KEYS}
        data["video"] = self.video.route if self.video else None
        data["poster"] = self.poster.route if self.poster else None
        return data


GENERATION_KEYS = (
    "vendor_task_id", "vendor", "service", "state", "airflow_task_id", "map_index", "prompt", "error", "usage",
    "video_url", "thumbnail_url", "width", "height", "duration",
)  # fmt: skip


@dataclass
class RunVideos:
    """Every generation of the run, in task order then item order."""

    generations: list[Generation] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = {state: 0 for state in VIEW_STATES}
        for generation in self.generations:
            found[generation.view_state] += 1
        return {"total": len(self.generations), **found}

    def usage(self) -> dict[str, float]:
        """The usage figures the vendors returned, totalled over the run's generations."""
        return total_usage(self.generations)

    def select(self, *, state: str | None, task_id: str | None) -> list[Generation]:
        """The generations in ``state`` (a view state) made by the Airflow task ``task_id`` (None: any)."""
        return [
            g
            for g in self.generations
            if (state is None or g.view_state == state) and (not task_id or g.airflow_task_id == task_id)
        ]


def run_videos(rows: Iterable[XComRow], load: Callable[[Any], list[Any]]) -> RunVideos:
    """The run's generations from its XCom rows; ``load`` flattens a stored value into result dicts. Every
    value is read by the class that wrote it (``TaskResult``, ``Manifest``); one that does not read is left
    out (XCom is written by DAG authors and XCom editors too, so nothing in it is trusted)."""
    by_ti: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        by_ti.setdefault((row.task_id, row.map_index), {})[row.key] = row.value
    found = RunVideos()
    seen: dict[str, Generation] = {}
    manifests: list[tuple[str, int, Manifest]] = []
    for (task_id, map_index), values in sorted(by_ti.items()):
        if xcom.VIDEO_URL not in values and xcom.VENDOR_TASK_ID not in values:
            manifest = read_manifest(values.get("return_value"))
            if manifest is not None:
                manifests.append((task_id, map_index, manifest))
            continue
        for result in _results(values, load):
            _keep(seen, found, _generation(result, task_id, map_index))
    for task_id, map_index, manifest in manifests:
        _attach_files(seen, task_id, map_index, manifest)
    return found


def read_manifest(value: Any) -> Manifest | None:
    """A download task's manifest, typed; None for anything else (or a manifest that does not read)."""
    if not isinstance(value, Mapping) or "files" not in value or "destination" not in value:
        return None
    try:
        return Manifest.from_dict(value)
    except (ValueError, OverflowError):
        return None


def _results(values: Mapping[str, Any], load: Callable[[Any], list[Any]]) -> list[TaskResult]:
    for key in RESULT_KEYS:
        if values.get(key) is not None:
            results = [result for result in map(_read_result, _loaded(load, values[key])) if result is not None]
            if results:
                return results
    # Still waiting (deferred): only the vendor task ids are known.
    ids = values.get(xcom.VENDOR_TASK_ID)
    ids = ids if isinstance(ids, list) else [ids]
    return [_waiting(task_id) for task_id in ids if isinstance(task_id, str) and task_id]


def _loaded(load: Callable[[Any], list[Any]], value: Any) -> list[Any]:
    try:
        return load(value)
    except (ValueError, OverflowError, OSError):  # a stored value that is not where, or what, the provider stored
        return []


def _read_result(data: Any) -> TaskResult | None:
    try:
        return TaskResult.from_dict(data)
    except (ValueError, OverflowError):
        return None


def _waiting(task_id: str) -> TaskResult:
    return TaskResult(task_id=task_id, service="", vendor="", state="pending")


def _generation(result: TaskResult, task_id: str, map_index: int) -> Generation:
    first = result.videos[0] if result.videos else None
    return Generation(
        vendor_task_id=result.task_id,
        vendor=result.vendor,
        service=result.service,
        state=result.state,
        airflow_task_id=task_id,
        map_index=map_index,
        prompt=result.prompt,
        error={"code": result.error.code, "message": result.error.message} if result.error else None,
        usage=result.usage,
        video_url=web_url(first.url) if first else None,
        thumbnail_url=web_url(first.thumbnail_url) if first else None,
        width=first.width if first else None,
        height=first.height if first else None,
    )


def _keep(seen: dict[str, Generation], found: RunVideos, generation: Generation) -> None:
    """A generation with no vendor task id (never submitted) is its own; one seen before keeps its place
    and takes the furthest state (a terminal state over a waiting one)."""
    key = generation.vendor_task_id
    if not key:
        found.generations.append(generation)
        return
    earlier = seen.get(key)
    if earlier is None:
        seen[key] = generation
        found.generations.append(generation)
    elif generation.state in TERMINAL_STATES and earlier.state not in TERMINAL_STATES:
        generation.airflow_task_id, generation.map_index = earlier.airflow_task_id, earlier.map_index
        generation.prompt = generation.prompt or earlier.prompt
        found.generations[found.generations.index(earlier)] = generation
        seen[key] = generation


def media_ref(task_id: str, map_index: int, position: int, manifest: Any) -> MediaRef | None:
    """The file at ``position`` of a download task instance's manifest (None: not a manifest, no such file)."""
    typed_manifest = read_manifest(manifest)
    if typed_manifest is None or not 0 <= position < len(typed_manifest.files):
        return None
    return _ref(task_id, map_index, position, typed_manifest.files[position])


def _ref(task_id: str, map_index: int, position: int, entry: FileEntry) -> MediaRef:
    return MediaRef(task_id, map_index, position, entry.name, entry.bytes, entry.sha256, entry.destination_uri)


def _attach_files(seen: Mapping[str, Generation], task_id: str, map_index: int, manifest: Manifest) -> None:
    for position, entry in enumerate(manifest.files):
        generation = seen.get(entry.task_id)
        if generation is None or entry.index != 0:  # the view shows a generation's first video
            continue
        ref = _ref(task_id, map_index, position, entry)
        if entry.kind == "video":
            generation.video = ref
            probe = VideoInfo.from_dict(entry.video) if entry.video is not None else None
            generation.duration = probe.duration if probe else None
            generation.width = generation.width or (probe.width if probe else None)
            generation.height = generation.height or (probe.height if probe else None)
        elif entry.kind == "thumbnail" or (entry.kind == "poster" and generation.poster is None):
            generation.poster = ref


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range ``bytes=a-b`` / ``a-`` / ``-n`` asks for, as inclusive (start, end); None for the whole
    file. Raises ValueError for a range that cannot be satisfied (416) or that is not one range."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        raise ValueError(header)
    first, _, last = spec.strip().partition("-")
    if not first:  # the last n bytes
        length = int(last)
        if length <= 0 or size == 0:
            raise ValueError(header)
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError(header)
    return start, end
