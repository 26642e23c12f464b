"""Download generated videos (and thumbnails) to any object storage, and return a manifest.

Kept cheap to import: httpx is imported inside ``execute``.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.media import InvalidVideoError
from airflow_provider_vidgen.core.results import TaskError, TaskResult
from airflow_provider_vidgen.core.transport import USER_AGENT, RetryPolicy

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Context

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB per file
CHUNK_SIZE = 1024 * 1024
VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".m4v", ".mkv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# XCom keys the generation operators push (operators/base.py); not imported, to keep this module light.
FAILURE_XCOM = "failure"
VENDOR_TASK_ID_XCOM = "vendor_task_id"
INVALID_VIDEO = "invalid_video"
NO_RESULT = "no_result"


class DownloadError(AirflowException):
    """A file could not be downloaded completely; nothing was left at the destination."""


@dataclass(frozen=True)
class PlannedFile:
    """One file to fetch: where from, under which name, and which generation it belongs to."""

    source_url: str
    name: str
    kind: str  # "video" or "thumbnail"
    result: TaskResult
    index: int


# ------------------------------------------------------------------------------------------------
# Pure helpers (no I/O)
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
        result = _result(value)
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


def _result(data: Mapping[str, Any]) -> TaskResult:
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


def failure_entry(result: TaskResult, prompt: str | None = None, upstream: str | None = None) -> dict[str, Any]:
    """How the manifest lists a generation that produced no usable video."""
    error = result.error or TaskError("no_video", f"the generation ended {result.state} without a video")
    return {
        "task_id": result.task_id,
        "vendor": result.vendor,
        "service": result.service,
        "state": result.state,
        "error": {"code": error.code, "message": error.message},
        "prompt": prompt,
        "upstream": upstream,
    }


def unexplained_failures(
    upstream: str,
    states: Mapping[int, str],
    failures: Sequence[Mapping[str, Any]],
    known_ids: set[str],
    submitted_ids: Sequence[str],
) -> list[dict[str, Any]]:
    """Failed task instances of one upstream task that left neither a result nor a ``failure`` XCom.

    Each vendor task id that was submitted but never came back is listed (it may still finish, and
    it is billed); task instances that failed before submitting anything are listed together.
    """
    bad = sorted(index for index, state in states.items() if state not in ("success", "skipped", "removed"))
    missing = len(bad) - len(failures)
    if missing <= 0:
        return []
    entries: list[dict[str, Any]] = []
    for task_id in submitted_ids:
        if task_id in known_ids or len(entries) >= missing:
            continue
        entries.append(
            {
                "task_id": task_id,
                "vendor": None,
                "service": None,
                "state": "unknown",
                "error": {
                    "code": NO_RESULT,
                    "message": f"Airflow task {upstream} submitted it but ended without its result (timeout or error "
                    "while waiting); it may still finish and is billed: collect it with "
                    f"VideoTaskSensor(task_ids=[{task_id!r}], service=...)",
                },
                "prompt": None,
                "upstream": upstream,
            }
        )
    if len(entries) < missing:
        where = ", ".join(f"{upstream}[{i}]" if i >= 0 else upstream for i in bad)
        entries.append(
            {
                "task_id": None,
                "vendor": None,
                "service": None,
                "state": "unknown",
                "error": {
                    "code": NO_RESULT,
                    "message": f"{missing - len(entries)} of the failed task instance(s) {where} left no generation "
                    "result (failed before or without submitting); see their logs",
                },
                "prompt": None,
                "upstream": upstream,
            }
        )
    return entries


def describe_failure(entry: Mapping[str, Any]) -> str:
    error = entry.get("error") or {}
    return f"{entry.get('task_id') or entry.get('upstream') or '?'} ({error.get('code')}: {error.get('message')})"


def failure_text(entry: Mapping[str, Any]) -> str:
    """A failure for a log line: ``acedata hailuo task <id>: failed (<code>: <message>)``."""
    error = entry.get("error") or {}
    who = " ".join(part for part in (entry.get("vendor"), entry.get("service")) if part)
    subject = f"{who} task {entry['task_id']}" if entry.get("task_id") else f"Airflow task {entry.get('upstream')}"
    return f"{subject.strip()}: {entry.get('state')} ({error.get('code')}: {error.get('message')})"


def summary_line(generations: int, downloaded: int, failures: Sequence[Mapping[str, Any]]) -> str:
    """``2 of 3 generations downloaded; 1 failed: <id> (<code>: <message>)``."""
    text = f"{downloaded} of {generations} generation{'s' if generations != 1 else ''} downloaded"
    if not failures:
        return text + "; none failed"
    return text + f"; {len(failures)} failed: " + "; ".join(describe_failure(entry) for entry in failures)


def xcom_sources(value: Any) -> list[str]:
    """Task ids of the upstream tasks whose XCom ``results`` refers to (``generate.output``, ...)."""
    from airflow.sdk import XComArg

    found: list[str] = []

    def walk(item: Any, depth: int) -> None:
        if isinstance(item, XComArg):
            for operator, _key in item.iter_references():
                if operator.task_id not in found:
                    found.append(operator.task_id)
        elif depth < 5 and isinstance(item, list | tuple | set):
            for element in item:
                walk(element, depth + 1)
        elif depth < 5 and isinstance(item, Mapping):
            for element in item.values():
                walk(element, depth + 1)

    walk(value, 0)
    return found


def pull_whole_results(value: Any, context: Any, depth: int = 0) -> Any:
    """``value`` with every ``task.output`` in it replaced by all that task's values (a list; None absent)."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    if isinstance(value, PlainXComArg):
        values = context["ti"].xcom_pull(task_ids=[value.operator.task_id], key=value.key)
        return [item for item in values or () if item is not None]
    if depth < 5 and isinstance(value, list | tuple):
        return [pull_whole_results(item, context, depth + 1) for item in value]
    return value


def _map_states(task_id: str, states: Mapping[str, Any]) -> dict[int, str]:
    """``get_task_states`` keys (``task`` or ``task_<map index>``) to ``{map_index: state}``."""
    out: dict[int, str] = {}
    for key, state in states.items():
        if key == task_id:
            out[-1] = str(state)
        elif key.startswith(f"{task_id}_") and key[len(task_id) + 1 :].isdigit():
            out[int(key[len(task_id) + 1 :])] = str(state)
    return out


def destination_path(value: Any, conn_id: str | None = None) -> ObjectStoragePath:
    """The (rendered) destination as an ObjectStoragePath; a plain absolute path means ``file://``."""
    if isinstance(value, ObjectStoragePath):
        text = str(value)
        if not text.strip() or (not value.protocol and not value.path.startswith("/")):
            raise InvalidInputError("destination", f"must be an absolute path or a URI, got {text!r}")
        if conn_id and not value.conn_id:
            return ObjectStoragePath(text, conn_id=conn_id)
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            "destination", f"must be a folder URI such as file:///data/videos or s3://bucket/prefix, got {value!r}"
        )
    text = value.strip()
    if "{{" in text or "{%" in text:
        raise InvalidInputError("destination", f"was not rendered (template left in {text!r})")
    if "://" not in text:
        if not text.startswith("/"):
            raise InvalidInputError("destination", f"must be an absolute path or a URI, got {text!r}")
        text = f"file://{text}"
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def check_destination_prefix(value: Any) -> None:
    """What a DAG file fixes of ``destination``, checked when it is parsed: a relative folder would
    otherwise be refused only in the download step, after every generation was paid for.

    A literal string is checked whole; a templated one by its literal part before the first template,
    once that part has a folder separator (``videos/{{ run_id }}/`` is relative, ``{{ var }}/x`` can't tell).
    """
    if not isinstance(value, str):
        return  # an ObjectStoragePath is absolute by construction; XComArgs are resolved when the task runs
    text = value.strip()
    cut = min((text.find(mark) for mark in ("{{", "{%") if mark in text), default=-1)
    literal = text if cut < 0 else text[:cut]
    if "://" in literal or literal.startswith("/"):
        return
    if cut < 0 or "/" in literal:
        raise InvalidInputError(
            "destination",
            f"must be an absolute path or a URI (e.g. /data/videos/{{{{ run_id }}}}/, file:///data/videos/, "
            f"s3://bucket/videos/), got the relative {value!r}",
        )


def content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def file_sha256(path: ObjectStoragePath) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------
# The operator
# ------------------------------------------------------------------------------------------------


class VideoDownloadOperator(BaseOperator):
    """Download every generated video to a folder on any object storage; prove each is a video; report all.

    :param results: what generation tasks returned (templated): ``generate.output`` of an operator,
        a mapped operator or the sensor, or a list of those (``[hailuo.output, wait.output]``).
    :param destination: folder to write into (templated), e.g.
        ``"file:///data/videos/{{ run_id }}/"``, ``"s3://bucket/videos/{{ dag_run.run_after | ds }}/"``
        or an ``ObjectStoragePath`` (whose path is templated too). ``{{ ds }}`` fails in runs without
        a logical date (triggered from the UI or the REST API).
    :param destination_conn_id: connection for the object store when ``destination`` is a string
        (same as ``ObjectStoragePath(..., conn_id=...)``).
    :param include_thumbnails: also download each video's thumbnail (used as its poster).
    :param posters: extract a poster frame (JPEG) from each video that has no downloaded thumbnail.
    :param max_bytes: largest file accepted; a bigger one aborts the task and leaves nothing behind.
    :param fail_on_missing: fail when any generation has no usable video (failed, unfinished, or a file
        that is not a video); by default they are listed in the manifest and the log and the task
        succeeds, unless nothing at all was downloaded.
    :param manifest_name: write the manifest as JSON into the destination under this name (None: don't).
    :param gallery_name: write a self-contained HTML gallery of the folder under this name (None: don't).
    :param request_timeout: seconds without progress before a download is abandoned.
    :param download_retries: extra attempts per file on connection errors and 5xx/429 answers.

    Runs with ``trigger_rule="all_done"`` by default, so a failed mapped generation does not stop the
    others from being downloaded. Every map index of the upstream tasks in ``results`` is accounted
    for: failed generations come from their ``failure`` XCom, and task instances that left no result
    at all are listed too.

    Files are named ``<vendor>_<task id>_<index>.mp4`` (thumbnails ``..._<index>_thumb.jpg``, posters
    ``..._<index>_poster.jpg``) and written under a temporary name, then renamed, so a reader never
    sees a partial file. Every video is probed with PyAV before the rename (container, codec, size,
    duration, every declared frame present); a file that is not a complete video (an HTML error page,
    a truncated file) is never kept and its generation is listed as failed (``invalid_video``).

    Returns (XCom) the manifest: ``{destination, run_id, generations, downloaded, failed, bytes,
    files: [...], failures: [...], manifest, gallery}``. When the task has asset ``outlets``, each
    asset event carries ``{destination, files, new_files, bytes, failed, manifest, gallery}`` as its ``extra``.
    """

    template_fields: Sequence[str] = ("results", "destination", "destination_conn_id")
    template_fields_renderers = {"results": "py"}
    ui_color = "#e4f0ff"

    def __init__(
        self,
        *,
        results: Any,
        destination: str | ObjectStoragePath,
        destination_conn_id: str | None = None,
        include_thumbnails: bool = False,
        posters: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fail_on_missing: bool = False,
        manifest_name: str | None = "manifest.json",
        gallery_name: str | None = "gallery.html",
        request_timeout: float = 60.0,
        download_retries: int = 2,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.results = results
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.include_thumbnails = include_thumbnails
        self.posters = posters
        self.max_bytes = max_bytes
        self.fail_on_missing = fail_on_missing
        self.manifest_name = manifest_name
        self.gallery_name = gallery_name
        self.request_timeout = request_timeout
        self.download_retries = download_retries
        self.result_sources = xcom_sources(results)  # before rendering replaces the XComArgs
        if not kwargs.get("_airflow_from_mapped"):
            try:
                check_destination_prefix(destination)
            except InvalidInputError as err:
                where = f"{type(self).__name__} task {self.task_id!r}, checked when the DAG was parsed"
                raise InvalidInputError(err.field, f"{err.problem} ({where})") from None

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        # Pull each upstream's return values in one request for all its map indexes (a missing value
        # is simply absent), instead of Airflow's default resolution: that asks for one item past the
        # end of a mapped result, and for the value of a failed task, each logged as "XCom not found".
        self.results = pull_whole_results(self.results, context)
        super().render_template_fields(context, jinja_env)

    # ------------------------------------------------------------------ validation

    def _check_settings(self) -> None:
        if isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int) or self.max_bytes <= 0:
            raise InvalidInputError("max_bytes", f"must be a positive number of bytes, got {self.max_bytes!r}")
        if not isinstance(self.request_timeout, int | float) or self.request_timeout <= 0:
            raise InvalidInputError(
                "request_timeout", f"must be a positive number of seconds, got {self.request_timeout!r}"
            )
        if (
            isinstance(self.download_retries, bool)
            or not isinstance(self.download_retries, int)
            or self.download_retries < 0
        ):
            raise InvalidInputError("download_retries", f"must be an integer >= 0, got {self.download_retries!r}")
        for field in ("manifest_name", "gallery_name"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip() or "/" in value):
                raise InvalidInputError(field, f"must be a plain file name, got {value!r}")

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        try:  # all input is checked before anything is downloaded
            self._check_settings()
            destination = destination_path(self.destination, self.destination_conn_id)
            results, prompts = collect_generations(self.results)
        except InvalidInputError as err:
            raise AirflowFailException(f"invalid input: {err}") from None

        failures = self._upstream_failures(context, results, prompts)
        planned, missing = plan_downloads(results, include_thumbnails=self.include_thumbnails)
        known = {entry["task_id"] for entry in failures}
        failures = [
            failure_entry(result, prompts.get(result.task_id)) for result in missing if result.task_id not in known
        ] + failures
        generations = len({result.task_id for result in results} | {f["task_id"] for f in failures if f["task_id"]})
        generations += sum(1 for f in failures if not f["task_id"])
        for entry in failures:
            self.log.warning("No video to download from %s", failure_text(entry))
        if failures and self.fail_on_missing:
            raise AirflowFailException(
                f"{len(failures)} of {generations} generation(s) have no video (fail_on_missing=True): "
                + "; ".join(failure_text(entry) for entry in failures)
            )
        if not results and not failures:
            self.log.warning("No generation results were given; nothing to download")

        self.log.info("Downloading %d file(s) to %s", len(planned), destination)
        if destination.protocol in ("file", "local"):
            destination.mkdir(parents=True, exist_ok=True)
        files, invalid = self._download_all(planned, destination, prompts)
        failures += invalid
        bad_ids = {entry["task_id"] for entry in invalid}
        downloaded = len({e["task_id"] for e in files if e["kind"] == "video" and e["task_id"] not in bad_ids})

        manifest: dict[str, Any] = {
            "destination": str(destination),
            "run_id": context.get("run_id"),
            "generations": generations,
            "downloaded": downloaded,
            "failed": len(failures),
            "bytes": sum(entry["bytes"] for entry in files),
            "files": files,
            "failures": failures,
            "manifest": str(destination / self.manifest_name) if self.manifest_name else None,
            "gallery": str(destination / self.gallery_name) if self.gallery_name else None,
        }
        if self.gallery_name:
            from airflow_provider_vidgen.core.gallery import render_gallery

            html = render_gallery(manifest, title=f"Videos of {self.dag_id}" if self.has_dag() else "Videos")
            self._write_atomically(destination / self.gallery_name, html.encode())
        if self.manifest_name:
            self._write_atomically(destination / self.manifest_name, json.dumps(manifest, indent=2).encode())
        self._annotate_outlets(context, manifest)
        new = sum(not entry["existing"] for entry in files)
        self.log.info(
            "%d file(s) at %s (%d downloaded, %d already complete, %d bytes)",
            len(files), destination, new, len(files) - new, manifest["bytes"],
        )  # fmt: skip
        line = summary_line(generations, downloaded, failures)
        (self.log.warning if failures else self.log.info)("%s", line)
        if manifest["gallery"]:
            self.log.info("Gallery: %s", manifest["gallery"])
        if invalid and self.fail_on_missing:
            raise AirflowFailException(f"{line} (fail_on_missing=True)")
        if failures and not downloaded:
            raise AirflowFailException(f"{line}: nothing was downloaded. The manifest lists every failure.")
        return manifest

    def _upstream_failures(
        self, context: Context, results: list[TaskResult], prompts: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Every failed map index of the upstream tasks in ``results``, from their ``failure`` XCom and states.

        Pulls whole XCom sequences (one request per key and task, never a missing item), so a run
        whose generations all succeed logs no XCom error.
        """
        ti = context.get("ti")
        sources = [task_id for task_id in getattr(self, "result_sources", []) if task_id]
        if not sources or ti is None or not hasattr(ti, "get_task_states"):
            return []
        known = {result.task_id for result in results}
        entries: list[dict[str, Any]] = []
        for upstream in sources:
            pulled = ti.xcom_pull(task_ids=[upstream], key=FAILURE_XCOM) or []
            failures = [item for item in pulled if isinstance(item, Mapping) and item.get("task_id")]
            for item in failures:
                if item["task_id"] in known:
                    continue
                try:
                    result = _result(item)
                except InvalidInputError:
                    continue
                known.add(result.task_id)
                prompt = item.get("prompt") if isinstance(item.get("prompt"), str) else None
                entries.append(failure_entry(result, prompt, upstream))
            raw = ti.get_task_states(dag_id=ti.dag_id, task_ids=[upstream], run_ids=[ti.run_id])
            states = _map_states(upstream, (raw or {}).get(ti.run_id, {}))
            if sum(state not in ("success", "skipped", "removed") for state in states.values()) > len(failures):
                submitted = [i for i in ti.xcom_pull(task_ids=[upstream], key=VENDOR_TASK_ID_XCOM) or [] if i]
                extra = unexplained_failures(upstream, states, failures, known, submitted)
                known.update(entry["task_id"] for entry in extra if entry["task_id"])
                entries.extend(extra)
        return entries

    def _download_all(
        self, planned: list[PlannedFile], destination: ObjectStoragePath, prompts: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Download, probe and (where needed) make a poster for every planned file.

        Returns the file entries and the failure entries of videos that are not videos.
        """
        import httpx

        files: list[dict[str, Any]] = []
        invalid: list[dict[str, Any]] = []
        bad: set[tuple[str, int]] = set()
        timeout = httpx.Timeout(self.request_timeout, connect=min(self.request_timeout, 30.0))
        headers = {"user-agent": USER_AGENT, "accept-encoding": "identity"}  # so Content-Length is the file size
        with httpx.Client(follow_redirects=True, timeout=timeout, headers=headers) as client:
            for item in planned:
                if (item.result.task_id, item.index) in bad:
                    continue  # the video is not a video: its thumbnail is of no use
                target = destination / item.name
                probe = item.kind == "video"
                try:
                    size, sha256, existing, info = self._fetch_with_retries(client, item.source_url, target, probe)
                except InvalidVideoError as err:
                    bad.add((item.result.task_id, item.index))
                    self._drop_thumbnails(files, item)
                    invalid.append(self._invalid_video(item, err, prompts))
                    continue
                entry = self._entry(item, target, size, sha256, existing, prompts)
                if info is not None:
                    entry["video"] = info
                files.append(entry)
        if self.posters:
            files.extend(self._make_posters(files, destination))
        return files, invalid

    def _entry(
        self,
        item: PlannedFile,
        target: ObjectStoragePath,
        size: int,
        sha256: str,
        existing: bool,
        prompts: Mapping[str, str],
    ) -> dict[str, Any]:
        return {
            "name": item.name,
            "source_url": item.source_url,
            "destination_uri": str(target),
            "bytes": size,
            "sha256": sha256,
            "vendor": item.result.vendor,
            "service": item.result.service,
            "task_id": item.result.task_id,
            "kind": item.kind,
            "index": item.index,
            "existing": existing,
            "prompt": prompts.get(item.result.task_id),
        }

    @staticmethod
    def _drop_thumbnails(files: list[dict[str, Any]], item: PlannedFile) -> None:
        files[:] = [e for e in files if not (e["task_id"] == item.result.task_id and e["index"] == item.index)]

    def _invalid_video(self, item: PlannedFile, err: InvalidVideoError, prompts: Mapping[str, str]) -> dict[str, Any]:
        result = item.result
        message = (
            f"{item.source_url} is not a complete video: {err.reason}. Nothing was kept as {item.name}. "
            "The link may have expired or the vendor served an error page: get fresh URLs with "
            f"VideoTaskSensor(task_ids=[{result.task_id!r}], service={result.service!r}) and download again"
        )
        entry = failure_entry(replace(result, error=TaskError(INVALID_VIDEO, message)), prompts.get(result.task_id))
        entry["state"] = "invalid_video"
        return entry

    def _make_posters(self, files: list[dict[str, Any]], destination: ObjectStoragePath) -> list[dict[str, Any]]:
        """A JPEG frame for every video without a downloaded thumbnail (kept when already there)."""
        from airflow_provider_vidgen.core.media import extract_poster

        thumbs = {(e["task_id"], e["index"]) for e in files if e["kind"] == "thumbnail"}
        posters = []
        for video in [e for e in files if e["kind"] == "video" and (e["task_id"], e["index"]) not in thumbs]:
            name = f"{video['name'].rpartition('.')[0]}_poster.jpg"
            target = destination / name
            existing = bool(video["existing"]) and bool(_size_or_none(target))
            if existing:
                data = target.read_bytes()
            else:
                try:
                    with ObjectStoragePath(video["destination_uri"]).open("rb") as handle:
                        data = extract_poster(handle)
                except InvalidVideoError as err:
                    self.log.warning("No poster for %s: %s", video["destination_uri"], err)
                    continue
                self._write_atomically(target, data)
            posters.append(
                {
                    **{k: video[k] for k in ("vendor", "service", "task_id", "index", "prompt")},
                    "name": name,
                    "source_url": None,
                    "destination_uri": str(target),
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "kind": "poster",
                    "existing": existing,
                }
            )
        return posters

    def _fetch_with_retries(
        self, client: httpx.Client, url: str, target: ObjectStoragePath, probe: bool
    ) -> tuple[int, str, bool, dict[str, Any] | None]:
        import httpx

        backoff = RetryPolicy(max_attempts=self.download_retries + 1, base_delay=2.0, max_delay=10.0)
        attempt = 0
        while True:
            try:
                return self._fetch(client, url, target, probe)
            except _Transient as err:
                problem = str(err)
            except httpx.HTTPError as err:
                # A transfer cut short (fewer bytes than Content-Length) is a transport error, too.
                problem = f"{type(err).__name__}: {err}"
            if attempt >= self.download_retries:
                raise DownloadError(f"GET {url} failed after {attempt + 1} attempt(s): {problem}")
            attempt += 1
            delay = backoff.delay(attempt)
            self.log.warning("Download of %s failed (%s); retrying in %.0f s", url, problem, delay)
            time.sleep(delay)

    def _fetch(
        self, client: httpx.Client, url: str, target: ObjectStoragePath, probe: bool
    ) -> tuple[int, str, bool, dict[str, Any] | None]:
        with client.stream("GET", url) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise DownloadError(f"GET {url} answered HTTP {response.status_code}; nothing was written to {target}")
            expected = content_length(response)
            if expected is not None and expected > self.max_bytes:
                raise DownloadError(
                    f"{url} is {expected} bytes, more than max_bytes={self.max_bytes}; nothing was written"
                )
            if expected is not None and _size_or_none(target) == expected:
                try:
                    info = _probe(target) if probe else None
                except InvalidVideoError as err:
                    self.log.warning("%s is there but is not a video (%s); downloading it again", target, err)
                else:
                    self.log.info("Already complete: %s (%d bytes)", target, expected)
                    return expected, file_sha256(target), True, info
            try:
                size, sha256, info = self._stream_to(response, url, target, expected, probe)
            except InvalidVideoError:
                _remove_quietly(target)  # never leave a non-video under a video's name
                raise
        if info is not None:
            self.log.info(
                "Downloaded %s -> %s (%d bytes, sha256 %s; %s %dx%d %.1f s)",
                url, target, size, sha256, info["codec"], info["width"], info["height"], info["duration"],
            )  # fmt: skip
        else:
            self.log.info("Downloaded %s -> %s (%d bytes, sha256 %s)", url, target, size, sha256)
        return size, sha256, False, info

    def _stream_to(
        self, response: httpx.Response, url: str, target: ObjectStoragePath, expected: int | None, probe: bool
    ) -> tuple[int, str, dict[str, Any] | None]:
        """Write the body under a temporary name, check it (size, and that a video is a video), then rename it."""
        digest = hashlib.sha256()
        size = 0
        info = None
        with _replaced_atomically(target) as partial:
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise DownloadError(
                            f"{url} exceeded max_bytes={self.max_bytes} while downloading; the partial file was removed"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if expected is not None and (size != expected or response.num_bytes_downloaded != expected):
                raise DownloadError(
                    f"{url}: received {size} bytes but Content-Length said {expected}; the partial file was removed"
                )
            if probe:
                info = _probe(partial)
        return size, digest.hexdigest(), info

    def _write_atomically(self, target: ObjectStoragePath, data: bytes) -> str:
        with _replaced_atomically(target) as partial, partial.open("wb") as out:
            out.write(data)
        return str(target)

    def _annotate_outlets(self, context: Context, manifest: Mapping[str, Any]) -> None:
        """Say in every asset event what landed where, so a downstream DAG needs no XCom."""
        from airflow.sdk import Asset

        assets = [outlet for outlet in self.outlets or () if isinstance(outlet, Asset)]
        if not assets:
            return
        files = manifest["files"]
        extra = {
            "destination": manifest["destination"],
            "files": len(files),
            "new_files": sum(not entry["existing"] for entry in files),
            "bytes": manifest["bytes"],
            "failed": manifest["failed"],
            "manifest": manifest["manifest"],
            "gallery": manifest["gallery"],
        }
        events = context.get("outlet_events")
        if events is None:
            return
        for asset in assets:
            events[asset].extra.update(extra)


def _probe(path: ObjectStoragePath) -> dict[str, Any]:
    """Probe a stored file: by its local path when it has one, else through a seekable file object."""
    from airflow_provider_vidgen.core.media import probe_video

    if path.protocol in ("file", "local"):
        return probe_video(path.path).to_dict()
    with path.open("rb") as handle:
        return probe_video(handle).to_dict()


class _Transient(Exception):
    """A retryable answer (429, 5xx) for one file."""


@contextlib.contextmanager
def _replaced_atomically(target: ObjectStoragePath) -> Iterator[ObjectStoragePath]:
    """A hidden temporary path next to ``target``: renamed onto it when the block succeeds, removed otherwise."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        yield partial
        partial.rename(target)
    except BaseException:
        _remove_quietly(partial)
        raise


def _size_or_none(path: ObjectStoragePath) -> int | None:
    try:
        return path.size() if path.exists() and path.is_file() else None
    except (FileNotFoundError, OSError):
        return None


def _remove_quietly(path: ObjectStoragePath) -> None:
    try:
        if path.exists():
            path.unlink()
    except Exception:  # never mask the original error
        pass


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DownloadError",
    "VideoDownloadOperator",
    "collect_generations",
    "collect_results",
    "plan_downloads",
    "summary_line",
]
