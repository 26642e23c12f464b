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
from airflow_provider_vidgen.core.results import TERMINAL_STATES, clean_usage, total_usage

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


def run_videos(rows: Iterable[XComRow], load: Callable[[Any], list[dict[str, Any]]]) -> RunVideos:
    """The run's generations from its XCom rows; ``load`` flattens a stored value into result dicts."""
    by_ti: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        by_ti.setdefault((row.task_id, row.map_index), {})[row.key] = row.value
    found = RunVideos()
    seen: dict[str, Generation] = {}
    manifests: list[tuple[str, int, Mapping[str, Any]]] = []
    for (task_id, map_index), values in sorted(by_ti.items()):
        if xcom.VIDEO_URL not in values and xcom.VENDOR_TASK_ID not in values:
            if _is_manifest(values.get("return_value")):
                manifests.append((task_id, map_index, values["return_value"]))
            continue
        for data in _results(values, load):
            _keep(seen, found, _generation(data, task_id, map_index))
    for task_id, map_index, manifest in manifests:
        _attach_files(seen, task_id, map_index, manifest)
    return found


def _results(values: Mapping[str, Any], load: Callable[[Any], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    for key in RESULT_KEYS:
        if values.get(key) is not None:
            results = [item for item in load(values[key]) if isinstance(item, Mapping)]
            if results:
                return [dict(item) for item in results]
    # Still waiting (deferred): only the vendor task ids are known.
    ids = values.get(xcom.VENDOR_TASK_ID)
    ids = ids if isinstance(ids, list) else [ids]
    return [{"task_id": task_id, "state": "pending"} for task_id in ids if isinstance(task_id, str) and task_id]


def _generation(data: Mapping[str, Any], task_id: str, map_index: int) -> Generation:
    videos = [video for video in data.get("videos") or [] if isinstance(video, Mapping)]
    first = videos[0] if videos else {}
    error = data.get("error") if isinstance(data.get("error"), Mapping) else None
    return Generation(
        vendor_task_id=str(data.get("task_id") or ""),
        vendor=str(data.get("vendor") or ""),
        service=str(data.get("service") or ""),
        state=str(data.get("state") or "pending"),
        airflow_task_id=task_id,
        map_index=map_index,
        prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else None,
        error=dict(error) if error else None,
        usage=clean_usage(data.get("usage")),
        video_url=_web_url(first.get("url")),
        thumbnail_url=_web_url(first.get("thumbnail_url")),
        width=first.get("width") if isinstance(first.get("width"), int) else None,
        height=first.get("height") if isinstance(first.get("height"), int) else None,
    )


def _web_url(value: Any) -> str | None:
    """A vendor's media URL, if it is one a browser may load (it comes from outside: no other scheme)."""
    return value if isinstance(value, str) and value.lower().startswith(("https://", "http://")) else None


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


def _is_manifest(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("files"), list) and "destination" in value


def media_ref(task_id: str, map_index: int, position: int, manifest: Any) -> MediaRef | None:
    """The file at ``position`` of a download task instance's manifest (None: not a manifest, no such file)."""
    if not _is_manifest(manifest) or not 0 <= position < len(manifest["files"]):
        return None
    entry = manifest["files"][position]
    if not isinstance(entry, Mapping) or not isinstance(entry.get("destination_uri"), str):
        return None
    return MediaRef(
        task_id, map_index, position, str(entry.get("name") or ""), int(entry.get("bytes") or 0),
        str(entry.get("sha256") or ""), entry["destination_uri"],
    )  # fmt: skip


def _attach_files(seen: Mapping[str, Generation], task_id: str, map_index: int, manifest: Mapping[str, Any]) -> None:
    for position, entry in enumerate(manifest["files"]):
        ref = media_ref(task_id, map_index, position, manifest)
        if ref is None:
            continue
        generation = seen.get(str(entry.get("task_id") or ""))
        if generation is None or entry.get("index", 0) != 0:  # the view shows a generation's first video
            continue
        if entry.get("kind") == "video":
            generation.video = ref
            probe = entry.get("video") if isinstance(entry.get("video"), Mapping) else {}
            generation.duration = probe.get("duration") if isinstance(probe.get("duration"), int | float) else None
            generation.width = generation.width or probe.get("width")
            generation.height = generation.height or probe.get("height")
        elif entry.get("kind") == "thumbnail" or (entry.get("kind") == "poster" and generation.poster is None):
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
