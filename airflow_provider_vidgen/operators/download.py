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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.transport import USER_AGENT, RetryPolicy

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Context

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB per file
CHUNK_SIZE = 1024 * 1024
VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".m4v", ".mkv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


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
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(("[", "{")):
            raise InvalidInputError("results", f"expected generation results (dicts), got the string {value!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise InvalidInputError("results", f"could not parse {value[:200]!r} as generation results") from None
    results: list[TaskResult] = []
    _collect(value, results, depth=0)
    return results


def _collect(value: Any, into: list[TaskResult], depth: int) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        into.append(_result(value))
        return
    if depth > 4 or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInputError(
            "results",
            f"expected generation results (dicts, lists of dicts), got {type(value).__name__}: {value!r:.200}",
        )
    for item in value:
        _collect(item, into, depth + 1)


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
    """Download every generated video to a folder on any object storage; return a manifest.

    :param results: what generation tasks returned (templated): ``generate.output`` of an operator,
        a mapped operator or the sensor, or a list of those (``[hailuo.output, wait.output]``).
    :param destination: folder to write into (templated), e.g.
        ``"file:///data/videos/{{ ds }}/"``, ``"s3://bucket/videos/{{ ds }}/"`` or an
        ``ObjectStoragePath`` (whose path is templated too).
    :param destination_conn_id: connection for the object store when ``destination`` is a string
        (same as ``ObjectStoragePath(..., conn_id=...)``).
    :param include_thumbnails: also download each video's thumbnail.
    :param max_bytes: largest file accepted; a bigger one aborts the task and leaves nothing behind.
    :param fail_on_missing: fail when a result has no video (failed or unfinished generation);
        by default such results are skipped with a log line naming their vendor task id.
    :param manifest_name: also write the manifest as JSON into the destination under this name.
    :param request_timeout: seconds without progress before a download is abandoned.
    :param download_retries: extra attempts per file on connection errors and 5xx/429 answers.

    Files are named ``<vendor>_<task id>_<index>.mp4`` (thumbnails ``..._<index>_thumb.jpg``) and
    written under a temporary name, then renamed, so a reader never sees a partial file. A file
    already there with the size the server announces is not downloaded again. Every download is
    checked against ``Content-Length``.

    Returns (XCom) the manifest: one ``{source_url, destination_uri, bytes, sha256, vendor,
    service, task_id, kind, index, existing}`` per file. When the task has asset ``outlets``, each
    asset event carries ``{destination, files, new_files, bytes, manifest}`` as its ``extra``.
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
        max_bytes: int = DEFAULT_MAX_BYTES,
        fail_on_missing: bool = False,
        manifest_name: str | None = None,
        request_timeout: float = 60.0,
        download_retries: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.results = results
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.include_thumbnails = include_thumbnails
        self.max_bytes = max_bytes
        self.fail_on_missing = fail_on_missing
        self.manifest_name = manifest_name
        self.request_timeout = request_timeout
        self.download_retries = download_retries

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
        if self.manifest_name is not None and (
            not isinstance(self.manifest_name, str) or not self.manifest_name.strip() or "/" in self.manifest_name
        ):
            raise InvalidInputError("manifest_name", f"must be a plain file name, got {self.manifest_name!r}")

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> list[dict[str, Any]]:
        try:  # all input is checked before anything is downloaded
            self._check_settings()
            destination = destination_path(self.destination, self.destination_conn_id)
            results = collect_results(self.results)
        except InvalidInputError as err:
            raise AirflowFailException(f"invalid input: {err}") from None

        planned, missing = plan_downloads(results, include_thumbnails=self.include_thumbnails)
        for result in missing:
            self.log.warning("No video to download from %s", result.describe())
        if missing and self.fail_on_missing:
            raise AirflowFailException(
                f"{len(missing)} of {len(results)} generation(s) have no video (fail_on_missing=True): "
                + "; ".join(result.describe() for result in missing)
            )
        if not results:
            self.log.warning("No generation results were given; nothing to download")

        self.log.info("Downloading %d file(s) to %s", len(planned), destination)
        if destination.protocol in ("file", "local"):
            destination.mkdir(parents=True, exist_ok=True)
        manifest = self._download_all(planned, destination)

        manifest_uri = None
        if self.manifest_name:
            manifest_uri = self._write_atomically(
                destination / self.manifest_name, json.dumps(manifest, indent=2).encode()
            )
        self._annotate_outlets(context, destination, manifest, manifest_uri)
        new = sum(not entry["existing"] for entry in manifest)
        self.log.info(
            "%d file(s) at %s (%d downloaded, %d already complete, %d bytes)",
            len(manifest), destination, new, len(manifest) - new, sum(entry["bytes"] for entry in manifest),
        )  # fmt: skip
        return manifest

    def _download_all(self, planned: list[PlannedFile], destination: ObjectStoragePath) -> list[dict[str, Any]]:
        import httpx

        manifest = []
        timeout = httpx.Timeout(self.request_timeout, connect=min(self.request_timeout, 30.0))
        headers = {"user-agent": USER_AGENT, "accept-encoding": "identity"}  # so Content-Length is the file size
        with httpx.Client(follow_redirects=True, timeout=timeout, headers=headers) as client:
            for item in planned:
                target = destination / item.name
                size, sha256, existing = self._fetch_with_retries(client, item.source_url, target)
                manifest.append(
                    {
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
                    }
                )
        return manifest

    def _fetch_with_retries(self, client: httpx.Client, url: str, target: ObjectStoragePath) -> tuple[int, str, bool]:
        import httpx

        backoff = RetryPolicy(max_attempts=self.download_retries + 1, base_delay=2.0, max_delay=10.0)
        attempt = 0
        while True:
            try:
                return self._fetch(client, url, target)
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

    def _fetch(self, client: httpx.Client, url: str, target: ObjectStoragePath) -> tuple[int, str, bool]:
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
                self.log.info("Already complete: %s (%d bytes)", target, expected)
                return expected, file_sha256(target), True
            size, sha256 = self._stream_to(response, url, target, expected)
        self.log.info("Downloaded %s -> %s (%d bytes, sha256 %s)", url, target, size, sha256)
        return size, sha256, False

    def _stream_to(
        self, response: httpx.Response, url: str, target: ObjectStoragePath, expected: int | None
    ) -> tuple[int, str]:
        """Write the body under a temporary name, check it, then rename it into place."""
        digest = hashlib.sha256()
        size = 0
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
        return size, digest.hexdigest()

    def _write_atomically(self, target: ObjectStoragePath, data: bytes) -> str:
        with _replaced_atomically(target) as partial, partial.open("wb") as out:
            out.write(data)
        return str(target)

    def _annotate_outlets(
        self, context: Context, destination: ObjectStoragePath, manifest: list[dict[str, Any]], manifest_uri: str | None
    ) -> None:
        """Say in every asset event what landed where, so a downstream DAG needs no XCom."""
        from airflow.sdk import Asset

        assets = [outlet for outlet in self.outlets or () if isinstance(outlet, Asset)]
        if not assets:
            return
        extra = {
            "destination": str(destination),
            "files": len(manifest),
            "new_files": sum(not entry["existing"] for entry in manifest),
            "bytes": sum(entry["bytes"] for entry in manifest),
            "manifest": manifest_uri,
        }
        events = context.get("outlet_events")
        if events is None:
            return
        for asset in assets:
            events[asset].extra.update(extra)


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


__all__ = ["DEFAULT_MAX_BYTES", "DownloadError", "VideoDownloadOperator", "collect_results", "plan_downloads"]
